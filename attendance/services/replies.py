"""What the person reads after a check-in, for each outcome. Channels render it as they like."""

from __future__ import annotations

from attendance.core.domain.challenges import INSTRUCTIONS, Pose
from attendance.core.domain.checkins import Direction, Outcome, OutcomeKind


def _when(outcome: Outcome) -> str:
    if outcome.at is None or outcome.timezone is None:
        return ""
    from zoneinfo import ZoneInfo

    local = outcome.at.astimezone(ZoneInfo(outcome.timezone))
    return f"{local:%H:%M} ({outcome.timezone})"


def photo_problem(detail: str | None) -> str:
    """What the person reads when their photo could not be fetched (``PhotoUnavailable``)."""
    detail = detail or ""
    if "larger than" in detail:
        return f"{detail[0].upper()}{detail[1:]}. Please send a smaller photo."
    if "expired" in detail:
        return "Your photo expired before I could check it. Please send it again."
    return "I couldn't get your photo. Please send it again; if this keeps happening, tell your admin."


def _name(outcome: Outcome) -> str:
    return f", {outcome.name.split()[0]}" if outcome.name and outcome.name.split() else ""


def reply_text(outcome: Outcome) -> str:
    verb = "in" if outcome.direction is Direction.IN else "out"
    match outcome.kind:
        case OutcomeKind.ACCEPTED:
            return f"Checked {verb} at {_when(outcome)}{_name(outcome)}."
        case OutcomeKind.DUPLICATE:
            return f"You already checked {verb} at {_when(outcome)}. Nothing new was recorded."
        case OutcomeKind.RETRY:
            return "I'm not sure it's you. Please retake the photo facing the camera in good light."
        case OutcomeKind.OTHER_PERSON:
            return (
                "This doesn't look like you, so nothing was recorded. "
                "If it is you, take a new selfie facing the camera, or ask your admin to check this attempt."
            )
        case OutcomeKind.NOT_RECOGNISED:
            return (
                "I could not recognise you. Please retake the photo facing the camera in good light; "
                "if it keeps failing, ask your admin to enroll you again."
            )
        case OutcomeKind.NOT_ENROLLED:
            return "You are not enrolled for selfie check-in yet. Enroll first, then send your selfie again."
        case OutcomeKind.INACTIVE:
            return "Your account is no longer active here, so nothing was recorded. Ask your admin if this is wrong."
        case OutcomeKind.NO_USABLE_FACE if outcome.reason == "unavailable":
            return photo_problem(outcome.detail)
        case OutcomeKind.NO_USABLE_FACE:
            return outcome.detail or "I could not use that photo. Please take a new selfie."
        case OutcomeKind.REPLAYED_PHOTO:
            return "This photo was already used. Please take a new selfie."
        case OutcomeKind.STALE_PHOTO:
            minutes = outcome.detail or "a few"
            return f"This photo was taken more than {minutes} minutes ago. Please take a new selfie now."
        case OutcomeKind.FAILED:
            return "Sorry, I could not process your photo. Please try again in a minute."
        case OutcomeKind.POSE_ASKED:
            return (
                f"One more step{_name(outcome)}: {_instruction(outcome)}, then send me a new selfie "
                "(within 3 minutes). Nothing is recorded until then."
            )
        case OutcomeKind.POSE_WRONG:
            return (
                f"That selfie does not show what I asked, so nothing was recorded: {_instruction(outcome)} "
                "and send a new selfie taken now."
            )


def _instruction(outcome: Outcome) -> str:
    try:
        return INSTRUCTIONS[Pose(outcome.detail or "")]
    except ValueError:
        return "face the camera"
