"""The benchmarks live in tools/bench, beside the product: from a checkout `attendance bench` finds
them; where they are missing it says where to run it instead of a traceback."""

from __future__ import annotations

import pytest

from attendance.entrypoints.cli.measure import _bench
from attendance.settings import ConfigurationError


def test_a_benchmark_module_is_found_from_the_checkout() -> None:
    assert callable(_bench("recognition").bench_match)


def test_a_missing_benchmark_module_says_to_run_it_from_a_checkout() -> None:
    with pytest.raises(ConfigurationError, match="from a checkout of the repository"):
        _bench("not_a_benchmark")
