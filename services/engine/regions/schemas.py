"""What the region API says: the tree, and the reports rolled up from halls."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from services.engine.statistics.reports import Group


class HallBrief(BaseModel):
    code: str
    name: str
    remote: bool = Field(description="a remote station: its own engine, figures pushed")


class RegionOut(BaseModel):
    code: str = Field(description="行政区划代码 (6, 9 or 12 digits)")
    name: str
    level: str = Field(description="province, city, district, town or village")
    parent: str | None
    path: str = Field(description="the codes from the root: /330100/330106/")
    halls: list[HallBrief] = Field(description="halls placed directly in this region")


class TreeOut(BaseModel):
    scope: str | None = Field(description="the caller's region (None: every region)")
    regions: list[RegionOut]


class RegionIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    parent: str | None = Field(
        default=None,
        pattern=r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$",
        description="the parent's code; absent: the one the code implies, if it exists",
    )


class StationIn(BaseModel):
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="the hall's code")
    name: str = Field(min_length=1, max_length=200)


class SummaryOut(BaseModel):
    count: int
    mean: float | None
    median: float | None
    p90: float | None
    max: float | None


class VolumeOut(BaseModel):
    key: str
    issued: int
    served: int
    no_show: int
    cancelled: int
    transferred: int
    held: int
    held_expired: int
    by_source: dict[str, int]
    by_outcome: dict[str, int]


class RegionPeriodOut(BaseModel):
    region: str
    name: str
    first: date
    last: date


class HallVolumesOut(BaseModel):
    hall: str
    name: str
    note: str | None = Field(description="why a hall has no figures (remote, no such service)")
    rows: list[VolumeOut]
    total: VolumeOut


class RegionVolumesOut(RegionPeriodOut):
    group: Group
    halls: list[HallVolumesOut]
    rows: list[VolumeOut] = Field(description="the region's, per period key (sums)")
    total: VolumeOut


class WaitLineOut(BaseModel):
    key: str
    service: str
    seconds: SummaryOut
    over_target: float | None


class HallWaitsOut(BaseModel):
    hall: str
    name: str
    note: str | None
    rows: list[WaitLineOut] = Field(description="per period key, every service together")
    total: WaitLineOut | None


class RegionWaitsOut(RegionPeriodOut):
    group: Group
    halls: list[HallWaitsOut]
    rows: list[WaitLineOut] = Field(description="the region's, from all its halls' tickets")
    by_service: list[WaitLineOut] = Field(description="the whole period, per service code")
    total: WaitLineOut | None


class HallHandlingOut(BaseModel):
    hall: str
    name: str
    note: str | None
    by_service: dict[str, SummaryOut]
    count: int = Field(description="cases with a handling time")
    mean_seconds: float | None = Field(description="their mean, every service together")


class RegionHandlingOut(RegionPeriodOut):
    halls: list[HallHandlingOut]
    by_service: dict[str, SummaryOut] = Field(description="from all the region's cases")
    count: int
    mean_seconds: float | None


class WindowOut(BaseModel):
    hall: str
    window: int
    cases: int
    handling_seconds: float
    case_share: float = Field(description="of the region's cases")
    low: bool = Field(description="under its hall's cases-per-month threshold")


class HallWindowsOut(BaseModel):
    hall: str
    name: str
    note: str | None
    cases: int
    top3_case_share: float | None
    gini_handling: float | None
    low_volume_windows: list[int]
    low_volume_threshold: float | None


class RegionBalanceOut(BaseModel):
    top3_case_share: float | None
    top3_handling_share: float | None
    gini_handling: float | None
    busiest: list[WindowOut]
    low_volume: list[WindowOut]


class RegionWindowsOut(RegionPeriodOut):
    halls: list[HallWindowsOut]
    windows: list[WindowOut] = Field(description="every window that worked, busiest first")
    balance: RegionBalanceOut


class ServiceMonthOut(BaseModel):
    service: str
    name: str
    wait: SummaryOut = Field(description="waits of the tickets called")
    over_target: float | None
    handled: int = Field(description="cases with a handling time")
    handling_mean_seconds: float | None


class HallWindowMonthOut(BaseModel):
    window: int
    cases: int
    case_share: float
    handling_seconds: float
    utilisation: float | None
    low: bool


class HallMonthOut(BaseModel):
    hall: str
    name: str
    remote: bool
    note: str | None
    volume: VolumeOut
    wait: SummaryOut
    over_target: float | None
    handled: int
    handling_mean_seconds: float | None
    services: list[ServiceMonthOut]
    windows: list[HallWindowMonthOut]
    top3_case_share: float | None
    gini_handling: float | None
    low_volume_threshold: float | None


class MonthlyOut(RegionPeriodOut):
    level: str
    month: str
    halls: list[HallMonthOut]
    volume: VolumeOut
    wait: SummaryOut
    over_target: float | None
    handled: int
    handling_mean_seconds: float | None
    balance: RegionBalanceOut
