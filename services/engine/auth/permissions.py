"""Who may do what (权限). Pure rules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.engine.core.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    STAFF = "staff"


class DeviceKind(StrEnum):
    KIOSK = "kiosk"
    GATEWAY = "gateway"
    DISPLAY = "display"


class Capability(StrEnum):
    READ = "read"  # queues, tickets, windows
    ISSUE = "issue"  # 取号
    WINDOW = "window"  # act at a window: call, finish, pause...
    CANCEL = "cancel"  # cancel a ticket
    RATE = "rate"  # record a citizen's rating (评价器)
    MANAGE = "manage"  # hall configuration, users, devices


_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.ADMIN: frozenset(Capability),
    # Staff and managers never rate: a rating is the citizen's own (不得代评).
    Role.MANAGER: frozenset(
        {Capability.READ, Capability.ISSUE, Capability.WINDOW, Capability.CANCEL, Capability.MANAGE}
    ),
    Role.STAFF: frozenset(
        {Capability.READ, Capability.ISSUE, Capability.WINDOW, Capability.CANCEL}
    ),
    DeviceKind.KIOSK: frozenset({Capability.READ, Capability.ISSUE, Capability.RATE}),
    DeviceKind.GATEWAY: frozenset({Capability.READ, Capability.WINDOW, Capability.RATE}),
    DeviceKind.DISPLAY: frozenset({Capability.READ}),
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a staff user or a hall device."""

    kind: str  # "user" or "device"
    id: int
    role: str  # a Role or a DeviceKind value
    hall_id: int | None  # None only for a city-wide administrator
    name: str

    @property
    def actor(self) -> str:
        """How the ticket event log names the caller."""
        return f"{self.kind}:{self.id}:{self.name}"[:64]

    @property
    def user_id(self) -> int | None:
        return self.id if self.kind == "user" else None

    def can(self, capability: Capability) -> bool:
        return capability in _CAPABILITIES.get(self.role, frozenset())


def authorise(principal: Principal, capability: Capability, hall_id: int) -> None:
    """Refuse unless the caller holds the capability inside this hall."""
    if principal.hall_id is not None and principal.hall_id != hall_id:
        raise Forbidden("this account belongs to another hall")
    if not principal.can(capability):
        raise Forbidden(f"a {principal.role} may not {capability.value} here")
