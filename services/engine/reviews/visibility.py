"""When a clerk may see a rating of their own work (我的评价). Pure.

Rating is the citizen's free choice (国办发〔2019〕51号: no pushing, no pressure). A clerk
who could read the level while the citizen is still at the window, or still in the hall
with the phone that rated, could argue with them or make the next citizen feel watched.
So a rating shows on the clerk's page only once the citizen can be taken to have left:

    visible at  max(finished_at, rated_at) + delay

``delay`` is the hall's ``staff_view_delay_minutes`` (default 30, at least 10). Counted
from both moments because a rating can come from the pad at the window seconds after
办结, or from the ticket's QR code a while later, perhaps from a seat in the hall. The
ticket in hand has no rating (a rating needs a finished ticket), and the one just
finished is inside the delay. A bad review's case is a rating too (its level is 1-2): a
case appears on the clerk's page at the same moment as its rating. Until then the page
says only how many ratings are still held back, which the console's 已评价/未评价 already
tells; never their levels.
"""

from __future__ import annotations

from datetime import datetime, timedelta

DEFAULT_DELAY_MINUTES = 30
MIN_DELAY_MINUTES = 10


def visible_from(finished_at: datetime | None, rated_at: datetime, delay: timedelta) -> datetime:
    """The moment a rating may be shown to the clerk it rates."""
    if delay < timedelta(minutes=MIN_DELAY_MINUTES):
        raise ValueError(f"the delay is at least {MIN_DELAY_MINUTES} minutes")
    latest = rated_at if finished_at is None else max(finished_at, rated_at)
    return latest + delay


def visible_to_staff(
    finished_at: datetime | None, rated_at: datetime, now: datetime, delay: timedelta
) -> bool:
    """Whether the clerk may see this rating (its level, comment, case) at ``now``."""
    return now >= visible_from(finished_at, rated_at, delay)
