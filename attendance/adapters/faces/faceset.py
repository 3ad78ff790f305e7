"""A face set on disk: ``<Identity>/<n>.jpg`` (1 = enrollment photo, the rest probes, natural
order) and ``_strangers/<Identity>/<n>.jpg`` (never enrolled)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"}
STRANGERS = "_strangers"


@dataclass(frozen=True, slots=True)
class FacePhoto:
    identity: str
    path: Path
    stranger: bool

    @property
    def label(self) -> str:
        return f"{STRANGERS + '/' if self.stranger else ''}{self.identity}/{self.path.name}"


def _natural(path: Path) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.stem))


def _photos(folder: Path, stranger: bool) -> dict[str, list[FacePhoto]]:
    people: dict[str, list[FacePhoto]] = {}
    for person in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        files = sorted((f for f in person.iterdir() if f.suffix.lower() in PHOTO_SUFFIXES), key=_natural)
        if files:
            people[person.name] = [FacePhoto(person.name, f, stranger) for f in files]
    return people


@dataclass(frozen=True, slots=True)
class FaceSet:
    enrolled: dict[str, list[FacePhoto]]
    strangers: dict[str, list[FacePhoto]]

    def all_photos(self) -> list[FacePhoto]:
        return [p for group in (self.enrolled, self.strangers) for photos in group.values() for p in photos]


def load_face_set(root: Path) -> FaceSet:
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder of face photos")
    strangers_dir = root / STRANGERS
    return FaceSet(
        enrolled=_photos(root, stranger=False),
        strangers=_photos(strangers_dir, stranger=True) if strangers_dir.is_dir() else {},
    )
