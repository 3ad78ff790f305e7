"""The OpenAPI document matches the code: Schemathesis reads it from the running server, generates
requests for every operation from it, and checks every answer against it (status codes, content
types, response schemas, no server errors)."""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
import schemathesis.checks
from hypothesis import HealthCheck, given

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.adapters.web.routes import API
from attendance.settings import Settings
from tests.web.threaded import ThreadedSite

# Schema-valid input that the API refuses with 400 on purpose: a cursor it did not make, a range
# that ends before it starts or spans more than 93 days. Every other check runs.
SEMANTIC = [schemathesis.checks.positive_data_acceptance]


def exercise(operation: Any, url: str, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @hypothesis.settings(
        max_examples=15, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=url, headers=headers, excluded_checks=SEMANTIC)

    check()


@pytest.mark.timeout(900)
def test_every_operation_answers_as_the_document_says(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any
) -> None:
    # thousands of generated requests per token: the per-token rate limit (tests/web/test_hardening.py) is raised
    generous = settings.model_copy(update={"web": settings.web.model_copy(update={"token_burst": 1_000_000})})
    with ThreadedSite(generous, mongo_server.uri, engine) as site:
        assert site.a is not None
        schema = schemathesis.openapi.from_url(f"{site.url}/api/v1/openapi.json")
        documented = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
        assert documented == {(r.method, r.path) for r in API if r.api}
        failures: list[str] = []
        for role in ("admin", "employee"):
            headers = {"Authorization": f"Bearer {site.a.tokens[role]}"}
            for result in schema.get_all_operations():
                operation = result.ok()
                try:
                    exercise(operation, site.url, headers)
                except (Exception, BaseExceptionGroup) as exc:
                    failures.append(f"{operation.method.upper()} {operation.path} as {role}: {exc}"[:1500])
        assert not failures, "\n\n".join(failures)
