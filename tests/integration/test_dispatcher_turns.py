"""Several dispatchers: one at a time fans out and one at a time claims (take_turn/end_turn on the
real database), and a turn its holder stopped renewing passes on when its lease ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from attendance.entrypoints.bootstrap import Container


async def test_one_dispatcher_at_a_time_holds_a_turn(container: Container) -> None:
    repo = container.deliveries
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    lease = timedelta(seconds=5)
    assert await repo.take_turn("fan-out", "a", now, lease)
    assert not await repo.take_turn("fan-out", "b", now, lease)  # a holds it
    assert await repo.take_turn("claim", "b", now, lease)  # another kind of work: its own turn
    assert await repo.take_turn("fan-out", "a", now + timedelta(seconds=4), lease)  # a renews
    assert not await repo.take_turn("fan-out", "b", now + timedelta(seconds=8), lease)  # renewed at 4 s: until 9 s
    assert await repo.take_turn("fan-out", "b", now + timedelta(seconds=10), lease)  # a stopped asking
    assert not await repo.take_turn("fan-out", "a", now + timedelta(seconds=10), lease)
    await repo.end_turn("claim", "b")
    assert await repo.take_turn("claim", "a", now, lease)  # ended: free at once
    await repo.end_turn("claim", "b")  # not b's any more: a keeps it
    assert not await repo.take_turn("claim", "b", now, lease)
