"""The access cache's rules: kept only while live, never from a reading older than a change."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm.exc import DetachedInstanceError

from services.engine.auth import cache as cache_module
from services.engine.auth.cache import AccessCache
from services.engine.auth.permissions import Principal
from services.engine.halls.models import Hall

KIOSK = Principal("device", 7, "kiosk", 1, "kiosk-1")


def a_hall(code: str = "east") -> Hall:
    return Hall(
        id=1,
        code=code,
        name="东区大厅",
        timezone="Asia/Shanghai",
        hours={"sessions": []},
        rules={"recalls": 2},
        tidal={},
        notice="",
        event_seq=41,
    )


def test_nothing_is_kept_before_the_listener_is_connected() -> None:
    cache = AccessCache()
    cache.keep_principal("device:a", KIOSK, cache.generation)
    cache.keep_hall(a_hall(), cache.generation)
    assert cache.principal("device:a") is None
    assert cache.hall("east") is None


def test_what_is_kept_is_given_back_until_a_change_is_announced() -> None:
    cache = AccessCache()
    cache.set_live(True)
    cache.keep_principal("device:a", KIOSK, cache.generation)
    cache.keep_hall(a_hall(), cache.generation)
    assert cache.principal("device:a") == KIOSK
    kept = cache.hall("east")
    assert kept is not None and kept.rules == {"recalls": 2}
    cache.changed()
    assert cache.announcements == 1
    assert cache.principal("device:a") is None
    assert cache.hall("east") is None


def test_a_reading_begun_before_a_change_is_not_kept() -> None:
    """A request read an account, a revocation was announced, then the request tries to keep
    what it read: kept, it would undo the revocation until the next change."""
    cache = AccessCache()
    cache.set_live(True)
    before = cache.generation
    cache.changed()
    cache.keep_principal("device:a", KIOSK, before)
    cache.keep_hall(a_hall(), before)
    assert cache.principal("device:a") is None
    assert cache.hall("east") is None


def test_losing_the_listener_forgets_and_stops_keeping() -> None:
    cache = AccessCache()
    cache.set_live(True)
    cache.keep_principal("device:a", KIOSK, cache.generation)
    cache.set_live(False)
    assert cache.principal("device:a") is None
    cache.keep_principal("device:a", KIOSK, cache.generation)
    assert cache.principal("device:a") is None
    # Back: nothing from before, but keeping again.
    cache.set_live(True)
    assert cache.principal("device:a") is None
    cache.keep_principal("device:a", KIOSK, cache.generation)
    assert cache.principal("device:a") == KIOSK


def test_the_kept_hall_belongs_to_no_session_and_has_no_event_number() -> None:
    cache = AccessCache()
    cache.set_live(True)
    original = a_hall()
    cache.keep_hall(original, cache.generation)
    kept = cache.hall("east")
    assert kept is not None and kept is not original
    state = inspect(kept)
    assert state.detached and state.identity == (1,)
    assert (kept.code, kept.name, kept.timezone) == ("east", "东区大厅", "Asia/Shanghai")
    # event_seq moves with every event: reading it from a kept hall fails loudly.
    with pytest.raises(DetachedInstanceError):
        _ = kept.event_seq
    # A later change to the loaded hall's settings does not leak into the kept one.
    original.rules["recalls"] = 9
    assert kept.rules == {"recalls": 2}


def test_the_cache_starts_again_rather_than_grow_without_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cache_module, "MAX_ENTRIES", 2)
    cache = AccessCache()
    cache.set_live(True)
    for key in ("a", "b", "c"):
        cache.keep_principal(key, KIOSK, cache.generation)
    assert [cache.principal(k) is not None for k in ("a", "b", "c")] == [False, False, True]


def test_what_is_kept_is_read_again_after_a_minute_announced_or_not() -> None:
    now = [100.0]
    cache = AccessCache(clock=lambda: now[0])
    cache.set_live(True)
    cache.keep_principal("device:a", KIOSK, cache.generation)
    cache.keep_hall(a_hall(), cache.generation)
    now[0] += cache_module.MAX_AGE_SECONDS - 0.5
    assert cache.principal("device:a") == KIOSK
    assert cache.hall("east") is not None
    now[0] += 0.5
    assert cache.principal("device:a") is None
    assert cache.hall("east") is None


def test_a_halls_services_are_kept_as_copies_of_no_session() -> None:
    from services.engine.halls.models import Service

    cache = AccessCache()
    cache.set_live(True)
    loaded = [
        Service(
            id=3,
            hall_id=1,
            code="tax",
            name="税务",
            prefix="T",
            number_width=3,
            daily_quota=200,
            period_quotas=[{"start": "09:00", "end": "12:00", "quota": 80}],
            hours=None,
            target_wait_minutes=20,
            average_handle_minutes=8.0,
            sort_order=0,
            active=True,
        )
    ]
    cache.keep_services(1, loaded, cache.generation)
    kept = cache.services(1)
    assert kept is not None and [s.code for s in kept] == ["tax"]
    assert kept[0] is not loaded[0] and inspect(kept[0]).detached
    assert (kept[0].daily_quota, kept[0].period_quotas[0]["quota"]) == (200, 80)
    # A deep copy: what the loading session's objects hold later is not what is kept.
    loaded[0].period_quotas[0]["quota"] = 1
    assert cache.services(1)[0].period_quotas[0]["quota"] == 80  # type: ignore[index]
    cache.changed()
    assert cache.services(1) is None
