"""``attendance keys rotate``: every sealed value (face templates, Slack tokens, webhook secrets and
connector credentials) re-encrypted under the active template key, so that the old key can go.

The operator configures the new key as ``ATTENDANCE_CRYPTO__TEMPLATE_KEY`` with a new
``TEMPLATE_KEY_ID`` and keeps the old one in ``OLD_TEMPLATE_KEYS`` while this runs
(docs/operations.md). Running it again finds nothing left to do; it may run while the service does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from attendance.core.ports import Resealed, SealedStore

log = logging.getLogger(__name__)


async def rotate_keys(stores: Mapping[str, SealedStore], *, dry_run: bool = False) -> dict[str, Resealed]:
    """Each store resealed in turn; what each found (to do, in a ``dry_run``)."""
    found = {}
    for name, store in stores.items():
        found[name] = result = await store.reseal(dry_run=dry_run)
        log.info(
            "%s %s: %s under an older key, %s already under the active key",
            "checked" if dry_run else "resealed",
            name,
            result.resealed,
            result.current,
        )
    return found
