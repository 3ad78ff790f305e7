"""`attendance eval` and `attendance bench`, run as commands.

The eval test asserts the recognition targets on the development set, so a change to the
pipeline or the thresholds that loses accuracy fails the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EVAL_KEYS = {
    "genuine",
    "rank1",
    "accept_correct",
    "accept_wrong",
    "retry",
    "unknown",
    "no_face",
    "enroll_fallbacks",
    "strangers",
    "stranger_accepts",
    "stranger_retries",
    "loo_trials",
    "loo_accepts",
    "verify_genuine",
    "verify_accept",
    "verify_retry",
    "verify_impostor_trials",
    "verify_impostor_accepts",
    "verify_other_person_flags",
    "verify_loo_trials",
    "verify_loo_accepts",
    "thresholds",
    "sweep",
    "clear_sweep",
    "enroll_photos",
    "skipped_identities",
}


def attendance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "attendance", *args], capture_output=True, text=True, timeout=600)


def test_eval_meets_the_recognition_targets(faces_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    result = attendance("eval", str(faces_dir), "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert set(report) >= EVAL_KEYS
    assert report["genuine"] == 104 and report["strangers"] == 15
    assert report["verify_impostor_trials"] > 3000
    # verification (chat check-ins): issue 18's targets; faces never enrolled claiming everyone
    assert report["verify_accept"] >= 0.985
    assert report["verify_impostor_accepts"] == 0
    assert report["verify_loo_trials"] > 2500 and report["verify_loo_accepts"] == 0
    # identification (kiosk)
    assert report["accept_wrong"] == 0
    assert report["stranger_accepts"] == 0
    assert report["loo_accepts"] <= 0.005
    assert report["accept_correct"] >= 0.97
    assert report["rank1"] >= 0.99
    # verify's clear band: off first, then the calibration grid
    assert report["clear_sweep"][0]["verify_clear"] == 0.0
    assert report["clear_sweep"][0]["verify_accept"] < report["verify_accept"]
    assert len(report["sweep"]) >= 10 and {"threshold", "verify_accept"} <= set(report["sweep"][0])
    assert "verify_accept" in result.stdout  # the readable table


def test_eval_enrolls_several_photos_per_person_and_skips_those_with_too_few(faces_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval3.json"
    result = attendance("eval", str(faces_dir), "--enroll-photos", "3", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["enroll_photos"] == 3 and report["skipped_identities"] == 2  # the two people with 3 photos
    assert report["genuine"] == 50 and "2 people skipped (fewer than 4 photos)" in result.stdout
    assert report["accept_wrong"] == 0 and report["stranger_accepts"] == 0 and report["rank1"] >= 0.99
    assert report["verify_accept"] >= 0.97 and report["accept_correct"] >= 0.95
    refused = attendance("eval", str(faces_dir), "--enroll-photos", "4")
    assert refused.returncode == 2 and "invalid choice" in refused.stderr


def test_bench_match_reports_latency_and_memory(tmp_path: Path) -> None:
    out = tmp_path / "match.json"
    result = attendance("bench", "match", "--gallery", "1000,20000", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert set(report) == {"1000", "20000"}
    assert report["20000"]["gallery_mb"] > report["1000"]["gallery_mb"] > 0
    assert report["1000"]["match_ms_p50"] > 0


def test_bench_recognition_on_a_small_set(faces_dir: Path, tmp_path: Path) -> None:
    small = tmp_path / "faces"
    for person in ("Serena_Williams", "Kit_Harington"):
        (small / person).mkdir(parents=True)
        for n in (1, 2):
            (small / person / f"{n}.jpg").symlink_to(faces_dir / person / f"{n}.jpg")
    out = tmp_path / "bench.json"
    result = attendance("bench", "recognition", str(small), "--checkins", "8", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    for key in (
        "ours_ms_p50_large",
        "ours_ms_p50_small",
        "baseline_ms_p50_large",
        "baseline_ms_p50_small",
        "speedup_large",
        "speedup_small",
        "throughput_1",
        "throughput_2",
    ):
        assert key in report
    assert report["photos"] == 4 and len(report["per_photo"]) == 4
    assert report["throughput_1"] > 0 and report["throughput_2"] > 0


def test_bench_pipeline_with_a_killed_worker(faces_dir: Path, tmp_path: Path) -> None:
    small = tmp_path / "faces"
    for person in ("Serena_Williams", "Queen_Rania"):
        (small / person).mkdir(parents=True)
        for n in (1, 2, 3):
            (small / person / f"{n}.jpg").symlink_to(faces_dir / person / f"{n}.jpg")
    out = tmp_path / "pipeline.json"
    result = attendance(
        "bench",
        "pipeline",
        "--faces",
        str(small),
        "--checkins",
        "16",
        "--workers",
        "2",
        "--kill-every",
        "6",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["submitted"] == report["completed"] == 16
    assert report["lost"] == 0 and report["duplicates"] == 0
    assert report["workers_killed"] >= 1
    assert report["events"] == report["outcomes"].get("accepted", 0)
    for key in ("p50_ms", "p95_ms", "throughput_per_s"):
        assert report[key] is not None and report[key] > 0
