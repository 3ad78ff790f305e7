"""Personal chat messages on every platform a tenant uses (the ``ChatMessages`` port)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from attendance.core.domain.model import Employee, Tenant
from attendance.core.ports import ChatButton

log = logging.getLogger(__name__)

Send = Callable[[Tenant, Sequence[Employee], str, Sequence[ChatButton]], Awaitable[set[str]]]


class ChatFanout:
    """Tells people on each platform; one platform's trouble does not keep the message from another."""

    def __init__(self, senders: Sequence[Send]) -> None:
        self._senders = list(senders)

    async def tell(
        self, tenant: Tenant, people: Sequence[Employee], text: str, buttons: Sequence[ChatButton] = ()
    ) -> set[str]:
        reached: set[str] = set()
        for send in self._senders:
            try:
                reached |= await send(tenant, people, text, buttons)
            except Exception:
                log.warning("a chat message could not be sent on one platform", exc_info=True)
        return reached
