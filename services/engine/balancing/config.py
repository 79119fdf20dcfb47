"""The ``[hall.tidal]`` part of a hall file: tidal window rules. Pure (validation only).

```toml
[hall.tidal]
mode = "recommend"      # off | recommend (event for managers) | auto (moves windows)
windows = [9, 10]       # the designated tidal windows (潮汐窗口)
weight = 1.0            # weight of the surging service at a tidal window
[[hall.tidal.rules]]
service = "business"
high_waiting = 15       # open at 15 waiting ...
high_wait_minutes = 30  # ... or an estimated wait of 30 minutes
low_waiting = 5         # close once at most 5 wait
low_wait_minutes = 10   # and the estimate is at most 10 minutes
hold_minutes = 10       # for 10 minutes on end
```
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.engine.balancing.tidal import TidalMode, TidalRule


class TidalRuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str
    high_waiting: int | None = Field(default=None, ge=1)
    low_waiting: int | None = Field(default=None, ge=0)
    high_wait_minutes: float | None = Field(default=None, gt=0)
    low_wait_minutes: float | None = Field(default=None, ge=0)
    hold_minutes: float = Field(default=10, ge=0)

    @model_validator(mode="after")
    def _valid(self) -> TidalRuleSpec:
        self.rule(0)  # the pure rule checks the marks
        return self

    def rule(self, service_id: int) -> TidalRule:
        return TidalRule(
            service_id=service_id,
            high_waiting=self.high_waiting,
            low_waiting=self.low_waiting,
            high_wait_minutes=self.high_wait_minutes,
            low_wait_minutes=self.low_wait_minutes,
            hold_minutes=self.hold_minutes,
        )


class TidalSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: TidalMode = TidalMode.OFF
    windows: list[int] = Field(default_factory=list)
    weight: float = Field(default=1.0, gt=0)
    rules: list[TidalRuleSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid(self) -> TidalSpec:
        services = [r.service for r in self.rules]
        if len(set(services)) != len(services):
            raise ValueError("one tidal rule per service")
        if self.mode is TidalMode.AUTO and self.rules and not self.windows:
            raise ValueError("auto mode needs the designated tidal windows")
        return self
