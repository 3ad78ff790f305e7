"""`attendance bench`: speed of the face pipeline and of matching, measured on this machine.

* recognition: each stage per photo (ours) against the face_recognition library's default
  pipeline on the same photos in the same run, and check-ins per second through the production
  process pool with 1 and 2 processes.
* match: latency of one identify over galleries of 1k .. 1M people, and the gallery's memory.
* baseline_rank1 (``attendance eval --baseline``): the face_recognition default pipeline's rank-1
  on the probes ``attendance eval`` scored, with the same enrollment photos.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from attendance.adapters.faces.faceset import load_face_set
from attendance.adapters.faces.pool import ProcessPoolFaceEngine
from attendance.adapters.faces.registry import face_pipeline, model_card
from attendance.core.domain.faces import PhotoRefused, Purpose
from attendance.core.matching import Gallery, identify
from attendance.settings import FaceSettings
from tools.bench.stats import percentile

LARGE = 640  # photos whose longest side is above this count as large


def _longest_side(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return max(im.size)


def _face_recognition() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pkg_resources, inside face_recognition_models
        warnings.simplefilter("ignore", UserWarning)
        import face_recognition
    return face_recognition


def baseline_rank1(root: Path, enroll_photos: int, probe_labels: Sequence[str]) -> dict[str, Any]:
    """The library's default pipeline (``load_image_file``, ``face_encodings`` with its defaults:
    HOG with one upsampling, the 5-point model, one jitter) on the full-resolution photos: each
    person's first ``enroll_photos`` photos with a face are enrolled, and each of ``probe_labels``
    counts as rank-1 when its nearest template is its own person's (no face found: a miss)."""
    fr = _face_recognition()
    faces = load_face_set(root)
    templates: list[tuple[str, np.ndarray]] = []
    wanted = set(probe_labels)
    probes: dict[str, tuple[str, np.ndarray | None]] = {}
    started = time.perf_counter()
    for identity, photos in faces.enrolled.items():
        if not any(p.label in wanted for p in photos):
            continue  # skipped by the eval (too few photos): not enrolled either
        used = 0
        for photo in photos:
            if photo.label in wanted:
                found = fr.face_encodings(fr.load_image_file(str(photo.path)))
                probes[photo.label] = (identity, found[0] if found else None)
            elif used < enroll_photos:
                found = fr.face_encodings(fr.load_image_file(str(photo.path)))
                if found:
                    templates.append((identity, found[0]))
                    used += 1
    gallery = Gallery.build(templates, dim=128)
    hits = 0
    for identity, vec in probes.values():
        if vec is not None:
            first, _ = gallery.nearest_two(np.asarray(vec, dtype=np.float32))
            hits += first.person >= 0 and gallery.person_id(first.person) == identity
    return {
        "baseline_rank1": round(hits / len(probe_labels), 4) if probe_labels else 0.0,
        "baseline_probes": len(probe_labels),
        "baseline_no_face": sum(vec is None for _, vec in probes.values()),
        "baseline_seconds": round(time.perf_counter() - started, 1),
    }


def bench_recognition(root: Path, settings: FaceSettings, *, throughput_checkins: int = 300) -> dict[str, Any]:
    faces = load_face_set(root)
    photos = faces.all_photos()
    engine = face_pipeline(settings)
    engine.warm_up()
    gallery = Gallery.build(
        (
            (ident, engine.analyse_sync(ps[0].path.read_bytes(), Purpose.ENROLL).embedding)
            for ident, ps in faces.enrolled.items()
        ),
        dim=engine.model.embedding_size,
    )
    face_recognition = _face_recognition()
    rows: list[dict[str, Any]] = []
    for photo in photos:
        size = _longest_side(photo.path)
        started = time.perf_counter()
        data = photo.path.read_bytes()
        read_ms = (time.perf_counter() - started) * 1000
        try:
            analysis = engine.analyse_sync(data, Purpose.CHECK_IN)
            t0 = time.perf_counter()
            identify(gallery, np.asarray(analysis.embedding, dtype=np.float32), engine.model.thresholds)
            match_ms = (time.perf_counter() - t0) * 1000
            ours: dict[str, float | str] = {
                "decode_ms": read_ms + analysis.times.decode_ms,
                "detect_ms": analysis.times.detect_ms,
                "encode_ms": analysis.times.encode_ms,
                "match_ms": match_ms,
            }
        except PhotoRefused as exc:
            ours = {"refused": exc.reason.value}
        ours_total = (time.perf_counter() - started) * 1000
        t0 = time.perf_counter()
        image = face_recognition.load_image_file(str(photo.path))
        t1 = time.perf_counter()
        locations = face_recognition.face_locations(image)
        t2 = time.perf_counter()
        face_recognition.face_encodings(image, locations)
        t3 = time.perf_counter()
        rows.append(
            {
                "photo": photo.label,
                "longest_side": size,
                "ours_ms": round(ours_total, 2),
                **{k: round(v, 2) if isinstance(v, float) else v for k, v in ours.items()},
                "baseline_ms": round((t3 - t0) * 1000, 2),
                "baseline_decode_ms": round((t1 - t0) * 1000, 2),
                "baseline_detect_ms": round((t2 - t1) * 1000, 2),
                "baseline_encode_ms": round((t3 - t2) * 1000, 2),
                "baseline_faces": len(locations),
            }
        )

    report: dict[str, Any] = {"photos": len(rows)}
    for label, large in (("large", True), ("small", False)):
        group = [r for r in rows if (r["longest_side"] > LARGE) is large]
        report[f"count_{label}"] = len(group)
        for who in ("ours", "baseline"):
            report[f"{who}_ms_p50_{label}"] = percentile([r[f"{who}_ms"] for r in group], 0.5, 2)
            report[f"{who}_ms_p95_{label}"] = percentile([r[f"{who}_ms"] for r in group], 0.95, 2)
        for stage in ("decode_ms", "detect_ms", "encode_ms", "match_ms"):
            values = [r[stage] for r in group if stage in r]
            report[f"ours_{stage}_p50_{label}"] = percentile(values, 0.5, 2)
            report[f"ours_{stage}_p95_{label}"] = percentile(values, 0.95, 2)
        ours, baseline = report[f"ours_ms_p50_{label}"], report[f"baseline_ms_p50_{label}"]
        report[f"speedup_{label}"] = round(baseline / ours, 2) if ours and baseline else None
    for n in (1, 2):
        report[f"throughput_{n}"] = asyncio.run(
            _throughput(photos_bytes(photos), settings, n, gallery, throughput_checkins)
        )
    report["per_photo"] = rows
    return report


def photos_bytes(photos: Sequence[Any]) -> list[bytes]:
    return [p.path.read_bytes() for p in photos]


async def _throughput(
    photos: list[bytes], settings: FaceSettings, processes: int, gallery: Gallery, total: int
) -> float:
    """Check-ins per second: pipeline in the production process pool, match on the event loop."""
    engine = ProcessPoolFaceEngine(settings, processes)
    try:
        await engine.warm_up()
        limit = asyncio.Semaphore(processes * 2)

        async def one(data: bytes) -> None:
            async with limit:
                try:
                    analysis = await engine.analyse(data, Purpose.CHECK_IN)
                except PhotoRefused:
                    return
                identify(gallery, np.asarray(analysis.embedding, dtype=np.float32), engine.model.thresholds)

        started = time.perf_counter()
        await asyncio.gather(*(one(photos[i % len(photos)]) for i in range(total)))
        return round(total / (time.perf_counter() - started), 1)
    finally:
        engine.close()


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 1e6


def bench_match(sizes: Sequence[int], *, probes: int = 50, seed: int = 7) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    model = model_card(FaceSettings())
    results: dict[str, Any] = {}
    for n in sizes:
        gc.collect()
        before = _rss_mb()
        matrix = rng.standard_normal((n, model.embedding_size), dtype=np.float32)
        matrix *= 0.09  # dlib descriptors have about this spread per dimension
        gallery = Gallery(np.arange(n).astype("S12"), matrix, np.arange(n, dtype=np.int64))
        del matrix
        queries = rng.standard_normal((probes, model.embedding_size), dtype=np.float32) * 0.09
        identify(gallery, queries[0], model.thresholds)  # warm
        times = []
        for q in queries:
            t0 = time.perf_counter()
            identify(gallery, q, model.thresholds)
            times.append((time.perf_counter() - t0) * 1000)
        results[str(n)] = {
            "people": n,
            "match_ms_p50": percentile(times, 0.5, 2),
            "match_ms_p95": percentile(times, 0.95, 2),
            "match_ms_mean": round(statistics.fmean(times), 2),
            "gallery_mb": round(gallery.nbytes / 1e6, 1),
            "rss_growth_mb": round(_rss_mb() - before, 1),
        }
        del gallery
    return results
