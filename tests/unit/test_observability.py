"""The alert rules and the Grafana dashboard in deploy/observability name only metrics the roles
export, and parse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from attendance.adapters.metrics.prometheus import PrometheusMetrics

DIR = Path(__file__).resolve().parents[2] / "deploy" / "observability"
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def exported() -> set[str]:
    m = PrometheusMetrics("worker")
    m.http_request("api_me", "GET", 200, 0.01)
    m.checkin_finished("accepted", 0.5)
    m.heartbeat("worker")
    text = m.exposition().decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def named(text: str) -> set[str]:
    return set(re.findall(r"\battendance_[a-z_]+", text))


def test_the_alert_rules_parse_and_name_exported_metrics() -> None:
    rules = yaml.safe_load((DIR / "alerts.yaml").read_text())
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    assert {"AttendanceCheckInQueueBackingUp", "AttendanceDecisionSlow", "AttendanceDeadLetters"} <= set(alerts)
    assert "AttendanceNoWorkerHeartbeat" in alerts
    have = exported()
    for name, expr in alerts.items():
        for metric in named(expr):
            assert metric in have, f"{name} uses {metric}, which no role exports"


def test_the_dashboard_parses_and_names_exported_metrics() -> None:
    dashboard = json.loads((DIR / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    have = exported()
    assert {n for e in exprs for n in named(e)} <= have
    for suffix in SUFFIXES:  # a histogram or counter is exported under its suffixed names
        assert not any(n.endswith(suffix) and n not in have for e in exprs for n in named(e))
