"""The staffing advice checked by the simulator, and the replay of a past day (what if).

Managers and administrators of the hall (docs/statistics.md, "Advice checked by the
simulator" and "Replay").
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from services.engine.core.inputs import WINDOW_NUMBER_MAX
from services.engine.deps import ReportAccess, SessionDep
from services.engine.statistics import advice_check, replay, simulation

router = APIRouter(prefix="/api/v1/halls/{hall}/stats", tags=["statistics"])

From = Annotated[date, Query(alias="from", description="first business day (hall's date)")]
To = Annotated[date, Query(alias="to", description="last business day, included")]


class WaitsOut(BaseModel):
    tickets: int
    called: int
    mean_seconds: float | None
    p90_seconds: float | None
    over_target: float | None = Field(description="share of waits over the service's target")
    meets: bool | None = Field(description="within the service level (None: nobody called)")


def _waits(f: advice_check.WaitFigures) -> WaitsOut:
    return WaitsOut(
        tickets=f.tickets,
        called=f.called,
        mean_seconds=f.mean_seconds,
        p90_seconds=f.p90_seconds,
        over_target=f.over_target,
        meets=f.meets,
    )


class HourNeedOut(BaseModel):
    hour: int
    arrivals: float = Field(description="tickets per hour")
    windows: int = Field(description="Erlang C: windows for this service in this hour")


class LearnedOut(BaseModel):
    """What the history taught the simulator about one service."""

    service: str
    service_name: str
    tickets: int
    handle_cases: int
    mean_handle_seconds: float
    handle_cv: float
    median_handle_seconds: float | None
    p90_handle_seconds: float | None
    handle_from_history: bool
    no_show_rate: float | None
    own_windows: int = Field(description="windows serving it as their own today")
    hours: list[HourNeedOut]


class StaffingOut(BaseModel):
    name: Literal["today", "advice"]
    windows: int
    window_hours: float = Field(description="the windows' open hours added up")
    seeds: list[int]
    overall: WaitsOut
    services: dict[str, WaitsOut]
    utilisation: float | None
    unserved: list[str] = Field(description="services no window serves: left out")


class HourWindowsOut(BaseModel):
    hour: int
    advice: int = Field(description="windows the advice asks for (all services)")
    today: int = Field(description="windows open today in that hour")


class AdviceCheckOut(BaseModel):
    hall: str
    first: date
    last: date
    weekday: int | None = Field(description="the weekday simulated (None: a typical Mon-Fri)")
    days: int
    weekdays: int
    tickets: int = Field(description="the history it rests on")
    service_level: float
    green_share: float
    priority_share: float
    appointment_share: float
    no_show_share: float
    no_show_minutes: float
    sessions: list[str]
    services: list[LearnedOut]
    hours: list[HourWindowsOut]
    today: StaffingOut
    advice: StaffingOut


def _staffing(r: advice_check.StaffingResult) -> StaffingOut:
    return StaffingOut(
        name="today" if r.name == "today" else "advice",
        windows=r.windows,
        window_hours=r.window_hours,
        seeds=r.seeds,
        overall=_waits(r.overall),
        services={c: _waits(f) for c, f in r.services.items()},
        utilisation=r.utilisation,
        unserved=r.unserved,
    )


@router.get("/advice/check", response_model=AdviceCheckOut)
async def advice_check_route(
    access: ReportAccess,
    session: SessionDep,
    first: From,
    last: To,
    weekday: Annotated[int | None, Query(ge=0, le=6, description="0 = Monday")] = None,
    seeds: Annotated[int, Query(ge=1, le=advice_check.MAX_SEEDS)] = advice_check.DEFAULT_SEEDS,
    service_level: Annotated[float, Query(gt=0, lt=1)] = 0.8,
    max_occupancy: Annotated[float, Query(gt=0, le=1)] = 0.85,
) -> AdviceCheckOut:
    """The advice (Erlang C per service and hour) checked by the day simulator: the
    learned day run under the balanced policy with today's windows and with the advice's,
    over several seeds; the waits each gives, per service."""
    found = await simulation.advice_check_of(
        session=session,
        hall=access.hall,
        first=first,
        last=last,
        weekday=weekday,
        seeds=seeds,
        service_level=service_level,
        max_occupancy=max_occupancy,
    )
    await session.commit()
    return advice_check_out(found, service_level)


def advice_check_out(found: simulation.AdviceCheck, service_level: float) -> AdviceCheckOut:
    c = found.check
    h = c.history
    names = found.data.service_names
    return AdviceCheckOut(
        hall=found.hall.code,
        first=h.first,
        last=h.last,
        weekday=c.weekday,
        days=(h.last - h.first).days + 1,
        weekdays=h.weekdays,
        tickets=h.tickets,
        service_level=service_level,
        green_share=h.green_share,
        priority_share=h.priority_share,
        appointment_share=h.appointment_share,
        no_show_share=h.no_show_share,
        no_show_minutes=h.no_show_minutes,
        sessions=[advice_check.span_text(s) for s in c.sessions],
        services=[
            LearnedOut(
                service=code,
                service_name=names.get(code, code),
                tickets=s.tickets,
                handle_cases=s.handle.cases,
                mean_handle_seconds=s.handle.mean_seconds,
                handle_cv=s.handle.cv,
                median_handle_seconds=s.handle.median_seconds,
                p90_handle_seconds=s.handle.p90_seconds,
                handle_from_history=s.handle.from_history,
                no_show_rate=s.no_show_rate,
                own_windows=found.own_windows.get(code, 0),
                hours=[
                    HourNeedOut(hour=n.hour, arrivals=n.arrivals, windows=n.windows)
                    for n in c.needs.get(code, [])
                ],
            )
            for code, s in h.services.items()
            if s.tickets
        ],
        hours=_hours(c),
        today=_staffing(c.today),
        advice=_staffing(c.advice),
    )


def _hours(c: advice_check.Check) -> list[HourWindowsOut]:
    """Windows per clock hour: the advice's total against today's open windows."""
    advice: dict[int, int] = {}
    for needs in c.needs.values():
        for n in needs:
            advice[n.hour] = advice.get(n.hour, 0) + n.windows
    today_windows = c.today.windows
    out = []
    for hour in sorted(advice):
        open_today = any(a < hour * 60 + 60 and b > hour * 60 for a, b in c.sessions)
        out.append(
            HourWindowsOut(hour=hour, advice=advice[hour], today=today_windows if open_today else 0)
        )
    return out


# --- replay ---------------------------------------------------------------------------------


class WindowChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1, le=WINDOW_NUMBER_MAX)
    services: dict[str, float] | None = Field(
        default=None, max_length=64, description="its own services and weights (None: as is)"
    )
    secondary: dict[str, float] | None = Field(
        default=None, max_length=64, description="services it helps, with weights (None: as is)"
    )
    add_services: dict[str, float] = Field(
        default_factory=dict, max_length=64, description="own services added"
    )
    add_secondary: dict[str, float] = Field(
        default_factory=dict, max_length=64, description="services it helps, added"
    )
    open_hours: list[Annotated[str, Field(max_length=16)]] | None = Field(
        default=None, max_length=8, description='e.g. ["08:30-12:00"] (None: as that day)'
    )
    closed: bool = False


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: date
    policy: Literal["balanced", "fifo", "dedicated"] | None = None
    windows: list[WindowChangeIn] = Field(default_factory=list, max_length=200)
    handling: Literal["actual", "drawn"] = "actual"
    seeds: int = Field(default=1, ge=1, le=advice_check.MAX_SEEDS)


class WindowDayOut(BaseModel):
    number: int
    name: str
    services: dict[str, float]
    secondary: dict[str, float]
    open_hours: list[str]
    changed: bool


class RunOut(BaseModel):
    policy: str
    seeds: list[int]
    overall: WaitsOut
    services: dict[str, WaitsOut]
    windows: list[WindowDayOut]


class ReplayOut(BaseModel):
    hall: str
    day: date
    tickets: int = Field(description="citizens replayed: every ticket called that day")
    left_out: dict[str, int] = Field(description="tickets never called, by status")
    service_names: dict[str, str]
    no_show_minutes: float
    real: RunOut = Field(description="what happened (the statistics' waits)")
    same: RunOut = Field(description="the simulator with that day's windows and policy")
    what_if: RunOut = Field(description="the simulator with the changes")
    notes: list[str]


def _run(r: replay.Run) -> RunOut:
    return RunOut(
        policy=r.policy,
        seeds=r.seeds,
        overall=_waits(r.figures),
        services={c: _waits(f) for c, f in r.services.items()},
        windows=[
            WindowDayOut(
                number=w.number,
                name=w.name,
                services=w.primary,
                secondary=w.secondary,
                open_hours=[advice_check.span_text(s) for s in w.spans],
                changed=w.changed,
            )
            for w in r.windows
        ],
    )


@router.post("/replay", response_model=ReplayOut)
async def replay_route(access: ReportAccess, session: SessionDep, body: ReplayIn) -> ReplayOut:
    """A past day's real citizens replayed with that day's windows, and with other windows
    or another policy (what if the general windows had helped 不动产?), beside what
    really happened."""
    found, names = await simulation.replay_day(
        session=session,
        hall=access.hall,
        day=body.day,
        what_if=what_if_of(body),
    )
    await session.commit()
    return replay_out(access.hall.code, found, names)


def what_if_of(body: ReplayIn) -> replay.WhatIf:
    return replay.WhatIf(
        policy=body.policy,
        windows=[
            replay.WindowChange(
                number=w.number,
                primary=w.services,
                secondary=w.secondary,
                add_primary=w.add_services,
                add_secondary=w.add_secondary,
                open_hours=w.open_hours,
                closed=w.closed,
            )
            for w in body.windows
        ],
        handling=body.handling,
        seeds=body.seeds,
    )


def replay_out(hall: str, found: replay.Replay, names: dict[str, str]) -> ReplayOut:
    return ReplayOut(
        hall=hall,
        day=found.day,
        tickets=found.tickets,
        left_out=found.left_out,
        service_names=names,
        no_show_minutes=found.no_show_minutes,
        real=_run(found.real),
        same=_run(found.same),
        what_if=_run(found.what_if),
        notes=found.notes,
    )
