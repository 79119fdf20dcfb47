"""The demo hall for newcomers: loaded by ``make run`` into an empty database."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth import service as auth_service
from services.engine.auth.permissions import DeviceKind, Role
from services.engine.halls import repository
from services.engine.halls.service import get_hall
from services.engine.regions import repository as regions_repo
from services.engine.setup.apply import apply_hall_file
from services.engine.setup.hall_file import parse_hall_file


async def setup_demo(*, session: AsyncSession, hall_text: str) -> int:
    """Load the demo hall and accounts once; print the credentials that one time."""
    if await repository.count_halls(session) > 0:
        print("database already holds halls; demo set-up skipped (credentials were shown once)")
        return 0
    spec = parse_hall_file(hall_text)
    await apply_hall_file(session=session, spec=spec)
    hall = await get_hall(session=session, code=spec.hall.code)
    lines = [f"Demo hall '{hall.code}' ({hall.name}) loaded. Credentials (shown only now):"]
    for role, username in ((Role.MANAGER, "demo-manager"), (Role.STAFF, "demo-staff")):
        password = secrets.token_urlsafe(9)
        await auth_service.add_user(
            session=session, hall=hall, role=role, username=username, password=password
        )
        lines.append(f"  {role.value:8} user     {username} / {password}")
    if hall.region_id is not None:
        # The district's administrator: reads the district's reports (/regions).
        region = await regions_repo.by_id(session, hall.region_id)
        if region is not None:
            password = secrets.token_urlsafe(9)
            await auth_service.add_user(
                session=session,
                hall=None,
                role=Role.REGION_ADMIN,
                username="demo-district",
                password=password,
                region=region,
            )
            lines.append(f"  region   user     demo-district / {password} ({region.name})")
    for kind, name in (
        (DeviceKind.KIOSK, "demo-kiosk"),
        (DeviceKind.GATEWAY, "demo-gateway"),
        (DeviceKind.DISPLAY, "demo-display"),
    ):
        created = await auth_service.add_device(session=session, hall=hall, kind=kind, name=name)
        lines.append(f"  {kind.value:8} device   {name}: {created.token}")
    print("\n".join(lines))
    return 0
