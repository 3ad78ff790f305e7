"""`attendance eval` and `attendance bench`: measured, never assumed."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

from attendance.core.domain.model import ADAPTED_PER_PERSON as ADAPTED
from attendance.settings import ConfigurationError, Settings


def add_commands(sub: Any) -> None:
    p = sub.add_parser("eval", help="recognition accuracy on a labelled face set")
    p.add_argument("dir", type=Path)
    p.add_argument("--json", type=Path, metavar="FILE", help="write every figure as JSON")
    p.add_argument(
        "--enroll-photos",
        type=int,
        default=1,
        choices=(1, 2, 3),
        metavar="N",
        help="enroll each person's first N photos (1-3), probe the rest; people with fewer than N+1 "
        "photos are skipped (default 1)",
    )
    p.add_argument(
        "--baseline",
        action="store_true",
        help="also the face_recognition default pipeline's rank-1 on the same probes, in the same run "
        "(about a minute more: it reads the large photos at full size)",
    )
    p.add_argument(
        "--adapt",
        action="store_true",
        help="also replay each person's probes in order through the decision and template adaptation, "
        "and report the accept rates with and without it",
    )
    p.add_argument(
        "--pose",
        action="store_true",
        help="also the head-pose estimate on every photo and its mirror image (a mirror flips the yaw)",
    )
    p.add_argument(
        "--background",
        action="store_true",
        help="also build two-person photos from the set (a stranger behind or beside each probe, each stranger in "
        "front of an enrolled face) and report how the dominant-face rule decides them",
    )
    p.set_defaults(handler=run_eval)

    bench = sub.add_parser("bench", help="speed benchmarks").add_subparsers(
        dest="action", required=True, metavar="WHAT"
    )
    p = bench.add_parser("recognition", help="pipeline stages and throughput vs the face_recognition library")
    p.add_argument("dir", type=Path)
    p.add_argument("--json", type=Path, metavar="FILE")
    p.add_argument("--checkins", type=int, default=300, help="check-ins for the throughput runs (default 300)")
    p.set_defaults(handler=run_bench_recognition)
    p = bench.add_parser("pipeline", help="check-ins end to end through the job queue and real workers")
    p.add_argument("--checkins", type=int, default=300)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--kill-every", type=int, metavar="K", help="SIGKILL a worker every K completions")
    p.add_argument("--rate", type=float, metavar="PER_S", help="pace submissions (default: all at once)")
    p.add_argument("--history", type=int, default=0, help="earlier check-ins and check-outs per person (default 0)")
    p.add_argument("--faces", type=Path, default=Path("../shared/faces"))
    p.add_argument("--json", type=Path, metavar="FILE")
    p.set_defaults(handler=run_bench_pipeline)
    p = bench.add_parser("slack", help="the Slack app: acknowledgement and answer latency through real processes")
    p.add_argument("--concurrency", type=int, default=50, help="signed requests at once (default 50)")
    p.add_argument("--rounds", type=int, default=10, help="bursts of --concurrency requests (default 10)")
    p.add_argument("--answers", type=int, default=40, help="selfies timed from event to answer (default 40)")
    p.add_argument("--workers", type=int, default=1, help="0: acknowledgements only, no check-in is decided")
    p.add_argument("--faces", type=Path, default=Path("../shared/faces"))
    p.add_argument("--json", type=Path, metavar="FILE")
    p.set_defaults(handler=run_bench_slack)
    p = bench.add_parser("scale", help="check-ins per second through the whole path by serve and worker processes")
    p.add_argument("--checkins", type=int, default=200, help="selfies per run (default 200)")
    p.add_argument("--serves", default="1,2", help="serve process counts to run (default 1,2)")
    p.add_argument("--workers", default="1,2", help="worker process counts to run, one face process each (default 1,2)")
    p.add_argument("--in-flight", type=int, default=32, help="selfies posted at once at most (default 32)")
    p.add_argument("--faces", type=Path, default=Path("../shared/faces"))
    p.add_argument("--json", type=Path, metavar="FILE")
    p.set_defaults(handler=run_bench_scale)
    p = bench.add_parser("dispatch", help="webhook deliveries per second through real dispatcher processes")
    p.add_argument("--events", type=int, default=3000)
    p.add_argument("--dispatchers", type=int, default=1)
    p.add_argument("--employees", type=int, default=200, help="events are ordered per employee (default 200)")
    p.add_argument("--concurrency", type=int, default=16, help="deliveries in flight per dispatcher (default 16)")
    p.add_argument("--receiver-ms", type=float, default=0.0, help="the receiver's time per request (default 0)")
    p.add_argument(
        "--history",
        type=int,
        default=0,
        help="deliveries already delivered per employee before the run, as months of use leave (default 0)",
    )
    p.add_argument("--json", type=Path, metavar="FILE")
    p.set_defaults(handler=run_bench_dispatch)
    p = bench.add_parser("web", help="the today board's server time and API latency at N concurrent clients")
    p.add_argument("--people", type=int, default=1000)
    p.add_argument("--days", type=int, default=30, help="days of attendance before today")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--requests", type=int, default=25, help="requests per client per endpoint")
    p.add_argument("--rounds", type=int, default=21, help="today board loads (the first is not counted)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--json", type=Path)
    p.set_defaults(handler=run_bench_web)
    p = bench.add_parser("match", help="match latency and memory by gallery size")
    p.add_argument("--gallery", default="1000,100000,1000000", help="comma-separated sizes")
    p.add_argument("--json", type=Path, metavar="FILE")
    p.set_defaults(handler=run_bench_match)


def _bench(name: str) -> Any:
    """A benchmark module of ``tools/bench``: they live beside the product, in the repository, and
    are not installed with it."""
    try:
        return importlib.import_module(f"tools.bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in ("tools", "tools.bench", f"tools.bench.{name}"):
            raise
        raise ConfigurationError(
            "attendance bench runs from a checkout of the repository (its tools/bench folder is not installed); "
            "run it there with `uv run attendance bench ...`"
        ) from exc


def _write(path: Path | None, report: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {path}")


async def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    from attendance.adapters.faces.evaluate import SWEEP_VALUES, clear_sweep, embed_face_set, score, sweep
    from attendance.adapters.faces.faceset import load_face_set
    from attendance.adapters.faces.registry import face_pipeline

    engine = face_pipeline(settings.face)
    th = engine.model.thresholds
    embedded = embed_face_set(
        load_face_set(args.dir), engine.analyse_sync, engine.model, enroll_photos=args.enroll_photos
    )
    figures = score(embedded, th)
    print(
        f"thresholds: verify {th.verify} (to {th.verify_clear} when {th.verify_clear_margin} clear of everyone "
        f"else; retry to {th.verify_retry}), identify accept {th.accept} (retry to {th.retry}), margin {th.margin}"
    )
    n = args.enroll_photos
    people = len({identity for identity, _ in embedded.templates})
    skipped = f", {len(embedded.skipped)} people skipped (fewer than {n + 1} photos)" if embedded.skipped else ""
    print(
        f"enrolled {people} people with up to {n} photo{'s' if n > 1 else ''} each ({len(embedded.templates)} "
        f"templates, {figures['enroll_fallbacks']} enrollment fallbacks{skipped}); "
        f"{figures['genuine']} genuine probes, {figures['strangers']} stranger photos\n"
    )
    print(f"{'figure':34s}value")
    for key, value in figures.items():
        if key != "counts":
            print(f"  {key:32s}{value}")
    print(f"\n{'T':>6s} {'id acc':>7s} {'wrong':>6s} {'str acc':>7s} {'loo':>6s} {'ver acc':>7s} {'imp acc':>7s}")
    rows = sweep(embedded, th, SWEEP_VALUES)
    for r in rows:
        print(
            f"{r['threshold']:6.2f} {r['accept_correct']:7.3f} {r['accept_wrong']:6.3f} {r['stranger_accepts']:7.3f} "
            f"{r['loo_accepts']:6.3f} {r['verify_accept']:7.3f} {r['verify_impostor_accepts']:7.4f}"
        )
    clear_rows = clear_sweep(embedded, th)
    print(
        f"\nverify's clear band:\n{'to':>6s} {'margin':>7s} {'ver acc':>7s} {'impostors accepted':>20s} "
        f"{'not enrolled accepted':>22s}"
    )
    for r in clear_rows:
        print(
            f"{r['verify_clear']:6.2f} {r['verify_clear_margin']:7.2f} {r['verify_accept']:7.3f} "
            f"{r['verify_impostor_accepts']:>11d} / {r['verify_impostor_trials']:<6d} "
            f"{r['verify_loo_accepts']:>12d} / {r['verify_loo_trials']}"
        )
    if embedded.refusals:
        print("\nphotos the pipeline refused:")
        for label, reason in embedded.refusals:
            print(f"  {label}: {reason}")
    report: dict[str, Any] = dict(figures)
    report["thresholds"] = dataclasses.asdict(th)
    report["sweep"] = rows
    report["clear_sweep"] = clear_rows
    report["refusals"] = [{"photo": label, "reason": reason} for label, reason in embedded.refusals]
    if args.baseline:
        baseline = _bench("recognition").baseline_rank1(
            args.dir, args.enroll_photos, [label for _, _, label in embedded.genuine]
        )
        report |= baseline
        print(
            f"\nrank-1 on the same {baseline['baseline_probes']} probes: this pipeline {figures['rank1']}, "
            f"face_recognition's default pipeline {baseline['baseline_rank1']} "
            f"({baseline['baseline_no_face']} probes without a face found; {baseline['baseline_seconds']} s)"
        )
    if args.adapt:
        from attendance.adapters.faces.evaluate import adapt_study

        report["adapt"] = adapted = adapt_study(embedded, th)
        print(
            f"\ntemplate adaptation (adapt {th.adapt}, margin {th.adapt_margin}, at most {ADAPTED} per person), "
            "each person's probes in order:"
        )
        for key, value in adapted.items():
            print(f"  {key:32s}{value}")
    if args.pose:
        from attendance.adapters.faces.evaluate import pose_study
        from attendance.adapters.faces.faceset import load_face_set

        report["pose"] = pose = pose_study(load_face_set(args.dir), engine.analyse_sync)
        print("\nhead pose (in eye distances), every photo and its mirror image:")
        for name, figure in pose.items():
            if name != "turns":
                print(f"  {name:32s}{figure}")
        print(f"  {'turn':>6s} {'turned':>7s} {'mirror opposite':>15s} {'mirror same way':>15s}")
        for row in pose["turns"]:  # type: ignore[attr-defined]
            print(
                f"  {row['turn']:6.2f} {row['photos_turned']:7d} {row['mirror_turned_the_other_way']:15d} "
                f"{row['mirror_turned_the_same_way']:15d}"
            )
    if args.background:
        report["background"] = _background(embedded, args.dir, settings, th)
    _write(args.json, report)
    return 0


def _background(embedded: Any, faces_dir: Path, settings: Settings, th: Any) -> dict[str, Any]:
    from attendance.adapters.faces.evaluate import RIVAL_RATIOS, background_figures, background_study
    from attendance.adapters.faces.faceset import load_face_set
    from attendance.adapters.faces.registry import face_pipeline

    # the study's own pipeline never refuses two people: it records each photo's rival share and
    # replays the production rule (and the other ratios) on it, as the threshold sweep does
    study_engine = face_pipeline(settings.face.model_copy(update={"second_face_ratio_check_in": 2.0}))
    study = background_study(embedded, load_face_set(faces_dir), study_engine.analyse_sync, study_engine.locate, th)
    ratio = settings.face.second_face_ratio_check_in
    rows = background_figures(study, ratio)
    print(
        f"\ntwo-person photos, the check-in rule at ratio {ratio} (the other face SCALE times the front "
        "face's width; 0: the front face alone on the same canvas):\n"
        f"{'layout':>7s} {'scale':>5s} {'probes':>6s} {'verified':>8s} {'2 people':>8s} "
        f"{'intruders':>9s} {'accepted':>8s}"
    )
    for f in rows:
        print(
            f"{f['layout']:>7s} {f['scale']:5.1f} {f['probes']:6d} {f['verified']:8.3f} {f['two_people']:8.3f} "
            f"{f['intruder_trials']:9d} {f['intruder_accepts']:8d}"
        )
    sweep_rows = []
    print(f"\n{'ratio':>6s} {'behind verified':>15s} {'beside 1.0 two people':>21s} {'intruder accepts':>16s}")
    for r in RIVAL_RATIOS:
        figures = background_figures(study, r)
        behind = [f for f in figures if f["layout"] == "behind" and float(f["scale"]) > 0]
        row = {
            "ratio": r,
            "behind_verified": round(sum(float(f["verified"]) for f in behind) / len(behind), 4),
            "beside_same_size_two_people": next(
                f["two_people"] for f in figures if f["layout"] == "beside" and f["scale"] == 1.0
            ),
            "intruder_accepts": sum(int(f["intruder_accepts"]) for f in figures),
        }
        sweep_rows.append(row)
        print(
            f"{r:6.2f} {row['behind_verified']:15.3f} {row['beside_same_size_two_people']:21.3f} "
            f"{row['intruder_accepts']:16d}"
        )
    return {"rival_ratio": ratio, "rows": rows, "sweep": sweep_rows}


async def run_bench_recognition(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    bench_recognition = _bench("recognition").bench_recognition

    report = await asyncio.to_thread(bench_recognition, args.dir, settings.face, throughput_checkins=args.checkins)
    for key, value in report.items():
        if key != "per_photo":
            print(f"{key:32s}{value}")
    _write(args.json, report)
    return 0


async def run_bench_match(args: argparse.Namespace, settings: Settings) -> int:
    bench_match = _bench("recognition").bench_match

    try:
        sizes = [int(x) for x in args.gallery.split(",") if x.strip()]
    except ValueError:
        print("attendance: --gallery takes comma-separated whole numbers, e.g. 1000,100000")
        return 2
    report = bench_match(sizes)
    for row in report.values():
        print(
            f"{row['people']:>9,d} people: p50 {row['match_ms_p50']} ms, p95 {row['match_ms_p95']} ms, "
            f"gallery {row['gallery_mb']} MB (process grew {row['rss_growth_mb']} MB)"
        )
    _write(args.json, report)
    return 0


async def run_bench_pipeline(args: argparse.Namespace, settings: Settings) -> int:
    bench_pipeline = _bench("pipeline").bench_pipeline

    report = await bench_pipeline(
        args.faces,
        checkins=args.checkins,
        workers=args.workers,
        kill_every=args.kill_every,
        rate=args.rate,
        history=args.history,
    )
    for key, value in report.items():
        print(f"{key:40s}{value}")
    _write(args.json, report)
    return 0 if report["lost"] == 0 and report["duplicates"] == 0 else 5


async def run_bench_slack(args: argparse.Namespace, settings: Settings) -> int:
    bench_slack = _bench("slack").bench_slack

    report = await bench_slack(
        args.faces, concurrency=args.concurrency, rounds=args.rounds, answers=args.answers, workers=args.workers
    )
    for key, value in report.items():
        print(f"{key:32s}{value}")
    _write(args.json, report)
    if args.workers == 0:
        return 0
    return 0 if report["answer_lost"] == 0 and report["burst_jobs_all_answered"] else 5


async def run_bench_scale(args: argparse.Namespace, settings: Settings) -> int:
    bench_scale = _bench("scale").bench_scale

    try:
        serves = [int(x) for x in args.serves.split(",") if x.strip()]
        workers = [int(x) for x in args.workers.split(",") if x.strip()]
    except ValueError:
        print("attendance: --serves and --workers take comma-separated whole numbers, e.g. 1,2")
        return 2
    report = await bench_scale(
        args.faces, checkins=args.checkins, serves=serves, workers=workers, in_flight=args.in_flight
    )
    print(f"\n{'serve':>5s} {'workers':>7s} {'check-ins/s':>11s} {'ack p50':>8s} {'ack p99':>8s} {'answered':>9s}")
    for r in report["runs"]:
        print(
            f"{r['serves']:5d} {r['workers']:7d} {r['checkins_per_s']:11} {r['ack_p50_ms']:8} {r['ack_p99_ms']:8} "
            f"{r['answered']:5d}/{r['checkins']}"
        )
    report["per_s"] = {f"{s}x{w}": v for (s, w), v in report["per_s"].items()}
    _write(args.json, report)
    return 0 if all(r["all_answered"] for r in report["runs"]) else 5


async def run_bench_dispatch(args: argparse.Namespace, settings: Settings) -> int:
    bench_dispatch = _bench("dispatch").bench_dispatch

    report = await bench_dispatch(
        events=args.events,
        dispatchers=args.dispatchers,
        employees=args.employees,
        receiver_ms=args.receiver_ms,
        concurrency=args.concurrency,
        history=args.history,
    )
    for key, value in report.items():
        print(f"{key:32s}{value}")
    _write(args.json, report)
    return 0 if report["lost"] == report["sent_twice"] == report["out_of_order"] == 0 else 5


async def run_bench_web(args: argparse.Namespace, settings: Settings) -> int:
    bench_web = _bench("web").bench_web

    report = await bench_web(
        people=args.people, days=args.days, clients=args.clients, each=args.requests, rounds=args.rounds, port=args.port
    )
    board = report["today_board"]
    print(f"{report['people']} people, {report['events']} events, {report['clients']} concurrent clients")
    print(
        f"today board: server p50 {board['server']['p50_ms']} ms, p95 {board['server']['p95_ms']} ms "
        f"(client p95 {board['client']['p95_ms']} ms, {board['bytes']} bytes)"
    )
    for name, row in report["api"].items():
        print(
            f"  {name:22s} p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  {row['per_s']:7.1f}/s"
            f"  errors {row['errors']}  (first, uncached: {row['first_ms']} ms)"
        )
    _write(args.json, report)
    return 0
