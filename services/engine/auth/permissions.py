"""Who may do what (权限). Pure rules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.engine.core.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    STAFF = "staff"
    # 区域管理员: every hall below a region, read-only; decides their appeals (申诉复核).
    REGION_ADMIN = "region_admin"


class DeviceKind(StrEnum):
    KIOSK = "kiosk"
    GATEWAY = "gateway"
    DISPLAY = "display"
    # 村级服务站: a station's engine pushing its daily figures to its district (push_stats only).
    STATION = "station"


class Capability(StrEnum):
    READ = "read"  # queues, tickets, windows
    ISSUE = "issue"  # 取号
    WINDOW = "window"  # act at a window: call, finish, pause...
    CANCEL = "cancel"  # cancel a ticket
    RATE = "rate"  # record a citizen's rating (评价器)
    MANAGE = "manage"  # hall configuration, users, devices
    REPORT = "report"  # statistics, the dashboard's overview, review cases and indicators
    DECIDE = "decide"  # decide a bad review's appeal (申诉复核, reviews/states.py)
    PUSH_STATS = "push_stats"  # a remote station's daily figures (jiaohao stats push)


_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.ADMIN: frozenset(Capability),
    # Staff and managers never rate: a rating is the citizen's own (不得代评).
    Role.MANAGER: frozenset(
        {
            Capability.READ,
            Capability.ISSUE,
            Capability.WINDOW,
            Capability.CANCEL,
            Capability.MANAGE,
            Capability.REPORT,
            Capability.DECIDE,
        }
    ),
    # Reads and reports of the halls below its region; never acts in them.
    Role.REGION_ADMIN: frozenset({Capability.READ, Capability.REPORT, Capability.DECIDE}),
    Role.STAFF: frozenset(
        {Capability.READ, Capability.ISSUE, Capability.WINDOW, Capability.CANCEL}
    ),
    DeviceKind.KIOSK: frozenset({Capability.READ, Capability.ISSUE, Capability.RATE}),
    DeviceKind.GATEWAY: frozenset({Capability.READ, Capability.WINDOW, Capability.RATE}),
    DeviceKind.DISPLAY: frozenset({Capability.READ}),
    DeviceKind.STATION: frozenset({Capability.PUSH_STATS}),
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a staff user or a hall device."""

    kind: str  # "user" or "device"
    id: int
    role: str  # a Role or a DeviceKind value
    hall_id: int | None  # None for a city-wide administrator and a region admin
    name: str
    # A region admin's scope: the region's code and the ids of every hall below it
    # (read with the account, kept by the access cache till a hall or region changes).
    region: str | None = None
    halls: frozenset[int] | None = None

    @property
    def actor(self) -> str:
        """How the ticket event log names the caller."""
        return f"{self.kind}:{self.id}:{self.name}"[:64]

    @property
    def user_id(self) -> int | None:
        return self.id if self.kind == "user" else None

    def can(self, capability: Capability) -> bool:
        return capability in _CAPABILITIES.get(self.role, frozenset())

    def covers(self, hall_id: int) -> bool:
        """Whether the hall is in the caller's scope: its own hall, the halls below its
        region (a region admin), or every hall (a city-wide administrator)."""
        if self.hall_id is not None:
            return self.hall_id == hall_id
        if self.role == Role.REGION_ADMIN:
            return hall_id in (self.halls or frozenset())
        return True


def authorise(principal: Principal, capability: Capability, hall_id: int) -> None:
    """Refuse unless the caller holds the capability inside this hall."""
    if not principal.covers(hall_id):
        if principal.hall_id is not None:
            raise Forbidden("this account belongs to another hall")
        raise Forbidden("this hall is not below this account's region")
    if not principal.can(capability):
        raise Forbidden(f"a {principal.role} may not {capability.value} here")


def authorise_region(principal: Principal, capability: Capability, path: str) -> None:
    """Refuse unless the caller holds the capability over the whole region at ``path``
    (its codes from the root, ``/330100/330106/``): a city-wide administrator, or a
    region admin of this region or one above it. A hall's accounts and devices see
    only their hall."""
    if principal.kind != "user" or principal.hall_id is not None:
        raise Forbidden("a hall's account sees only its own hall")
    if principal.role == Role.REGION_ADMIN and f"/{principal.region}/" not in path:
        raise Forbidden("this region is not below this account's region")
    if principal.role not in (Role.ADMIN, Role.REGION_ADMIN) or not principal.can(capability):
        raise Forbidden(f"a {principal.role} may not {capability.value} here")
