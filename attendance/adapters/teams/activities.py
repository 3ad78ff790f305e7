"""What an inbound Teams activity says, as one small value. Pure: no I/O.

Photos come in two shapes in a personal chat: an uploaded file
(``application/vnd.microsoft.teams.file.download.info``, ``content.downloadUrl``, fetched without
a token) and a pasted image (``image/*``, ``contentUrl`` on the connector, fetched with the bot's
token). Teams adds a ``text/html`` rendering of the message beside a pasted image: ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from attendance.adapters.teams.replier import FETCH_CONNECTOR, FETCH_DOWNLOAD

FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
PHOTO_FILE_TYPES = frozenset({"jpg", "jpeg", "png", "heic", "heif", "webp"})
MAX_TEXT = 500
MAX_RAW_TEXT = 8_000  # what is read of a message at all (a command is a few words)
_TAGS = re.compile(r"<[^>]{0,200}>")


def without_mentions(text: str) -> str:
    """``<at>...</at>`` spans removed, in one pass (a lazy regex is quadratic on many openers)."""
    lower, out, i = text.lower(), [], 0
    while (start := lower.find("<at>", i)) >= 0:
        end = lower.find("</at>", start + 4)
        if end < 0:
            break
        out.append(text[i:start])
        out.append(" ")
        i = end + 5
    out.append(text[i:])
    return "".join(out)


@dataclass(frozen=True, slots=True)
class IncomingPhoto:
    url: str
    fetch: str  # FETCH_DOWNLOAD | FETCH_CONNECTOR
    name: str = ""


@dataclass(frozen=True, slots=True)
class Turn:
    kind: str  # message | conversationUpdate | ...
    activity_id: str
    service_url: str
    conversation_id: str
    conversation_type: str  # personal | channel | groupChat
    teams_tenant: str
    user_id: str  # the Entra object id when Teams sends it, else the Teams user id
    from_id: str  # the Teams user id (29:...), for the connector's member look-up
    text: str
    value: dict[str, Any] | None
    photos: tuple[IncomingPhoto, ...]
    other_files: int  # attachments that are files but not photos
    bot_added: bool  # a conversationUpdate that adds the bot

    @property
    def personal(self) -> bool:
        return self.conversation_type in ("", "personal")

    @property
    def words(self) -> set[str]:
        return {w.strip(".,!?").lower() for w in self.text.split()}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def clean_text(text: str) -> str:
    """The words typed: mentions of the bot and Teams' HTML removed."""
    text = text[:MAX_RAW_TEXT]
    return " ".join(_TAGS.sub(" ", without_mentions(text)).replace("&nbsp;", " ").split())[:MAX_TEXT]


def photos_in(attachments: Any) -> tuple[tuple[IncomingPhoto, ...], int]:
    photos: list[IncomingPhoto] = []
    others = 0
    for item in attachments if isinstance(attachments, list) else []:
        a = _dict(item)
        kind = _str(a.get("contentType")).lower()
        if kind == FILE_DOWNLOAD_INFO:
            content = _dict(a.get("content"))
            url, file_type = _str(content.get("downloadUrl")), _str(content.get("fileType")).lower()
            if url and file_type in PHOTO_FILE_TYPES:
                photos.append(IncomingPhoto(url, FETCH_DOWNLOAD, _str(a.get("name"))))
            else:
                others += 1
        elif kind.startswith("image/") and _str(a.get("contentUrl")).startswith(("https://", "http://")):
            photos.append(IncomingPhoto(_str(a.get("contentUrl")), FETCH_CONNECTOR, _str(a.get("name"))))
    return tuple(photos), others


def turn_of(activity: dict[str, Any]) -> Turn:
    conversation, sender = _dict(activity.get("conversation")), _dict(activity.get("from"))
    channel_data = _dict(activity.get("channelData"))
    tenant = _str(conversation.get("tenantId")) or _str(_dict(channel_data.get("tenant")).get("id"))
    photos, others = photos_in(activity.get("attachments"))
    recipient = _str(_dict(activity.get("recipient")).get("id"))
    added = activity.get("membersAdded")
    bot_added = isinstance(added, list) and any(_str(_dict(m).get("id")) == recipient for m in added)
    value = activity.get("value")
    return Turn(
        kind=_str(activity.get("type")),
        activity_id=_str(activity.get("id")),
        service_url=_str(activity.get("serviceUrl")),
        conversation_id=_str(conversation.get("id")),
        conversation_type=_str(conversation.get("conversationType")),
        teams_tenant=tenant,
        user_id=_str(sender.get("aadObjectId")) or _str(sender.get("id")),
        from_id=_str(sender.get("id")),
        text=clean_text(_str(activity.get("text"))),
        value=value if isinstance(value, dict) and isinstance(value.get("action"), str) else None,
        photos=photos,
        other_files=others,
        bot_added=bot_added,
    )
