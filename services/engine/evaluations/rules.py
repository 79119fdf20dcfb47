"""Rating rules (好差评). Pure."""

from __future__ import annotations

from services.engine.core.errors import RatingNeedsReason, ValidationFailed

# The national five levels (全国一体化在线政务服务平台 好差评).
LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


def is_bad(level: int) -> bool:
    """Levels 1-2 are a 差评."""
    return level <= 2


def has_reason(reasons: list[str], comment: str | None) -> bool:
    return any(r.strip() for r in reasons) or bool(comment and comment.strip())


def reason_missing(level: int, reasons: list[str], comment: str | None) -> bool:
    """A 差评 recorded without any reason: only an evaluation pad's key press can be one."""
    return is_bad(level) and not has_reason(reasons, comment)


def check_rating(
    level: int, reasons: list[str], comment: str | None, *, from_pad: bool = False
) -> None:
    """Refuse an out-of-range level, or a 差评 with neither reason nor comment.

    An evaluation pad (评价器) has nothing but its level keys, so a 差评 pressed on one
    cannot carry a reason. It is recorded as the citizen gave it, without any reason
    (never with an invented one), and shows as ``reason_missing`` for the follow-up.
    """
    if level not in LEVELS:
        raise ValidationFailed("level must be 1 (非常不满意) to 5 (非常满意)")
    if reason_missing(level, reasons, comment) and not from_pad:
        raise RatingNeedsReason("a rating of 1 or 2 needs at least one reason or a comment")
