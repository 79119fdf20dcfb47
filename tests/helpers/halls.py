"""The test hall (tests/data/test-hall.toml), seeded with an account of every kind."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers import ROOT
from tests.helpers.app import app_for, serving

TEST_HALL = ROOT / "tests" / "data" / "test-hall.toml"
# The same hall a season later: a service renamed, a weight changed, window 4
# and the night service dropped, a new service and window, window 2 no longer
# serving estate, new rules.
CHANGED_HALL = ROOT / "tests" / "data" / "test-hall-changed.toml"


@dataclass
class Hall:
    """The seeded test hall and a bearer header for each kind of caller."""

    code: str
    headers: dict[str, dict[str, str]]

    def h(self, who: str) -> dict[str, str]:
        return self.headers[who]


PASSWORD = "correct horse battery"
_PASSWORD_HASH: list[str] = []


def password_hash() -> str:
    """Argon2 is slow on purpose: hash the test password once per session."""
    from services.engine.auth.security import hash_password

    if not _PASSWORD_HASH:
        _PASSWORD_HASH.append(hash_password(PASSWORD))
    return _PASSWORD_HASH[0]


async def seed_hall(
    app, client: httpx.AsyncClient, hall_file: Path = TEST_HALL, other_code: str | None = None
) -> Hall:  # type: ignore[no-untyped-def]
    """Apply a hall file and create one account of every kind in it.

    Staff tokens are minted directly (login itself is tested on its own).
    """
    from services.engine.auth import service as auth_service
    from services.engine.auth.models import User
    from services.engine.auth.permissions import DeviceKind, Role
    from services.engine.auth.security import create_access_token
    from services.engine.halls.service import get_hall
    from services.engine.setup.apply import apply_hall_file
    from services.engine.setup.hall_file import parse_hall_file

    spec = parse_hall_file(hall_file.read_text(encoding="utf-8"))  # noqa: ASYNC240 (tiny file)
    if other_code:
        spec = spec.model_copy(update={"hall": spec.hall.model_copy(update={"code": other_code})})
    headers: dict[str, dict[str, str]] = {}
    settings = app.state.settings
    async with app.state.sessionmaker() as session:
        await apply_hall_file(session=session, spec=spec)
        hall = await get_hall(session=session, code=spec.hall.code)
        users = [
            User(
                hall_id=hall.id,
                username=f"{spec.hall.code}-{role.value}",
                password_hash=password_hash(),
                role=role.value,
                active=True,
            )
            for role in Role
            if role is not Role.REGION_ADMIN  # a region's account, not a hall's
        ]
        session.add_all(users)
        await session.commit()
        for user in users:
            token = create_access_token(
                secret=settings.secret_key,
                user_id=user.id,
                role=user.role,
                hall_id=hall.id,
                minutes=60,
            )
            headers[user.role] = {"Authorization": f"Bearer {token}"}
        for kind in DeviceKind:
            created = await auth_service.add_device(
                session=session, hall=hall, kind=kind, name=f"{spec.hall.code}-{kind.value}"
            )
            headers[kind.value] = {"Authorization": f"Bearer {created.token}"}
    return Hall(spec.hall.code, headers)


async def seeded(url: str) -> Hall:
    """The test hall with its tokens, written into the database by an engine app of its own."""
    app = app_for(url)
    async with serving(app) as client:
        return await seed_hall(app, client)
