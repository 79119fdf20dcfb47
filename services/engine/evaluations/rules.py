"""Rating rules (好差评). Pure."""

from __future__ import annotations

from services.engine.core.errors import RatingNeedsReason, ValidationFailed

# The national five levels (全国一体化在线政务服务平台 好差评).
LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


def is_bad(level: int) -> bool:
    """Levels 1-2 are a 差评."""
    return level <= 2


def check_rating(level: int, reasons: list[str], comment: str | None) -> None:
    """Refuse an out-of-range level, or a 差评 with neither reason nor comment."""
    if level not in LEVELS:
        raise ValidationFailed("level must be 1 (非常不满意) to 5 (非常满意)")
    has_reason = any(r.strip() for r in reasons) or bool(comment and comment.strip())
    if is_bad(level) and not has_reason:
        raise RatingNeedsReason("a rating of 1 or 2 needs at least one reason or a comment")
