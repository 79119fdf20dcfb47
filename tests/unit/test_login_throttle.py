"""The failed-login throttle's rule (auth/throttle.py), on a clock moved by hand."""

from __future__ import annotations

import pytest

from services.engine.auth.throttle import LoginLimits, LoginThrottle, LoginThrottled


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(**limits: float) -> tuple[LoginThrottle, Clock]:
    clock = Clock()
    return LoginThrottle(LoginLimits(**limits), clock=clock), clock  # type: ignore[arg-type]


def fail(t: LoginThrottle, username: str, address: str = "10.0.0.1") -> None:
    t.failed(t.begin(username, address))


def test_the_21st_attempt_of_a_username_in_a_minute_is_refused_until_the_window_passes() -> None:
    t, clock = throttle()
    for i in range(20):
        clock.now += 1  # the first failure at 1001, the last at 1020
        fail(t, "zhang", f"10.0.0.{i}")
    clock.now = 1030
    with pytest.raises(LoginThrottled) as refused:
        t.begin("zhang", "10.9.9.9")  # from a fresh address too: the username is blocked
    assert refused.value.status == 429 and refused.value.code == "login_throttled"
    # The oldest failure (1001) leaves the window at 1061.
    assert refused.value.extra["retry_after_seconds"] == 31
    clock.now = 1060.5
    with pytest.raises(LoginThrottled):
        t.begin("zhang", "10.9.9.9")
    clock.now = 1061
    t.give_back(t.begin("zhang", "10.9.9.9"))  # one try again (the right password)
    # Others were never slowed.
    t.give_back(t.begin("li", "10.0.0.1"))


def test_attempts_under_way_count_so_a_burst_cannot_slip_past() -> None:
    t, _ = throttle(per_user=3)
    attempts = [t.begin("zhang", "10.0.0.1") for _ in range(3)]  # none answered yet
    with pytest.raises(LoginThrottled):
        t.begin("zhang", "10.0.0.1")
    # One turns out right (or is never checked): its place is given back.
    t.give_back(attempts[0])
    t.failed(t.begin("zhang", "10.0.0.1"))


def test_a_right_password_does_not_count_as_a_failure() -> None:
    t, _ = throttle(per_user=2)
    for _ in range(10):
        t.give_back(t.begin("zhang", "10.0.0.1"))
    fail(t, "zhang")
    fail(t, "zhang")
    with pytest.raises(LoginThrottled):
        t.begin("zhang", "10.0.0.1")


def test_an_address_is_counted_over_every_username() -> None:
    t, clock = throttle(per_address=5)
    for i in range(5):
        fail(t, f"user{i}", "10.0.0.1")
    with pytest.raises(LoginThrottled) as refused:
        t.begin("someone-else", "10.0.0.1")
    assert "from this address" in refused.value.detail
    t.give_back(t.begin("someone-else", "10.0.0.2"))
    clock.now += 60
    t.give_back(t.begin("someone-else", "10.0.0.1"))


def test_memory_is_bounded_by_keys_and_by_the_limit() -> None:
    t, clock = throttle(per_user=3, per_address=1_000_000)
    t.max_keys = 50
    for i in range(500):
        clock.now += 0.001
        fail(t, f"user{i}", "10.0.0.1")
    assert len(t._times) <= 50
    for _ in range(3):
        fail(t, "zhang")
    for _ in range(100):
        with pytest.raises(LoginThrottled):
            t.begin("zhang", "10.0.0.1")
    assert len(t._times["user:zhang"]) == 3  # refusals are not kept
