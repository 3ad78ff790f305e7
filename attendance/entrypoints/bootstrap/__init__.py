"""The composition root: the only package that knows every adapter. ``container`` builds the
``Container`` (database, keys, every repository and engine); ``apps`` builds what the roles run
on it. Everything is importable from here."""

from __future__ import annotations

from attendance.entrypoints.bootstrap.apps import (
    access_deps,
    chat_messages,
    dashboard_deps,
    dispatcher,
    enrollment_codes,
    scheduler,
    slack_bot,
    teams_bot,
    web_site,
)
from attendance.entrypoints.bootstrap.container import (
    Container,
    build,
    database_uri,
    generate_template_key,
    in_process_engine,
    session_keys,
    template_cipher,
)

__all__ = [
    "Container",
    "access_deps",
    "build",
    "chat_messages",
    "dashboard_deps",
    "database_uri",
    "dispatcher",
    "enrollment_codes",
    "generate_template_key",
    "in_process_engine",
    "scheduler",
    "session_keys",
    "slack_bot",
    "teams_bot",
    "template_cipher",
    "web_site",
]
