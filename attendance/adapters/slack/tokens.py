"""Bot tokens and Web API clients. Every call goes to ``SLACK_API_URL`` (a local stand-in in
tests). One workspace: the configured token. Installed by OAuth: the stored installation."""

from __future__ import annotations

from typing import Protocol

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from attendance.settings import SlackSettings


class SlackTokens(Protocol):
    async def bot_token(self, team_id: str) -> str | None: ...


class StaticSlackTokens:
    def __init__(self, token: str) -> None:
        self._token = token

    async def bot_token(self, team_id: str) -> str | None:
        return self._token


class InstalledSlackTokens:
    def __init__(self, store: AsyncInstallationStore) -> None:
        self._store = store

    async def bot_token(self, team_id: str) -> str | None:
        bot = await self._store.async_find_bot(enterprise_id=None, team_id=team_id)
        return bot.bot_token if bot else None


def api_base(settings: SlackSettings) -> str:
    return settings.api_url if settings.api_url.endswith("/") else settings.api_url + "/"


def web_client(settings: SlackSettings, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=api_base(settings), timeout=10)


def file_hosts(settings: SlackSettings) -> frozenset[str]:
    """Where Slack's files may be downloaded from: Slack's file host, and the API's host."""
    from urllib.parse import urlsplit

    api_host = urlsplit(api_base(settings)).hostname
    return frozenset([*settings.file_hosts, *([api_host] if api_host else [])])
