"""Use cases for accounts: log in, resolve a token, add users and devices."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.auth import scope, security
from services.engine.auth.cache import AccessCache
from services.engine.auth.hashing import PasswordChecker
from services.engine.auth.models import Device, User
from services.engine.auth.permissions import DeviceKind, Principal, Role
from services.engine.auth.throttle import LoginThrottle
from services.engine.core.db import utcnow
from services.engine.core.errors import Refusal, Unauthorized, ValidationFailed
from services.engine.halls.models import Hall
from services.engine.regions.models import Region

log = logging.getLogger(__name__)


class AccountExists(Refusal):
    code = "account_exists"
    title = "An account with that name exists"


_ACCOUNT_BY_USERNAME = select(
    User.id, User.password_hash, User.role, User.hall_id, User.active
).where(User.username == bindparam("username"))


async def login(
    *,
    session: AsyncSession,
    username: str,
    password: str,
    address: str,
    throttle: LoginThrottle,
    passwords: PasswordChecker,
    secret: str,
    minutes: int,
) -> str:
    """Check a staff password and hand out an access token.

    Refused at once (429) while the username or the client ``address`` has too many
    recent failures (auth/throttle.py); the hash runs off the event loop, with no
    database connection held meanwhile.
    """
    attempt = throttle.begin(username, address)
    try:
        account = (await session.execute(_ACCOUNT_BY_USERNAME, {"username": username})).first()
        await session.rollback()  # the connection goes back to the pool for the hash
        ok = await passwords.verify(account.password_hash if account else None, password)
    except BaseException:
        throttle.give_back(attempt)  # never checked: the database away, the client gone
        raise
    if account is None or not ok or not account.active:
        failures = throttle.failed(attempt)
        # Who and from where, never the password.
        log.warning(
            "login refused: username %r from %s (%d of %d failures allowed in %g s)",
            username[:64],
            address,
            failures,
            throttle.limits.per_user,
            throttle.limits.window_seconds,
        )
        raise Unauthorized("wrong username or password")
    throttle.give_back(attempt)
    # When the account last logged in (the accounts page shows it).
    await session.execute(update(User).where(User.id == account.id).values(last_login_at=utcnow()))
    await session.commit()
    return security.create_access_token(
        secret=secret,
        user_id=account.id,
        role=account.role,
        hall_id=account.hall_id,
        minutes=minutes,
        # A password reset cuts the tokens issued before it (principal_from_token).
        stamp=security.password_stamp(secret=secret, password_hash=account.password_hash),
    )


# Built once: resolved on every device request.
_DEVICE_BY_TOKEN_HASH = select(
    Device.id, Device.kind, Device.hall_id, Device.name, Device.active
).where(Device.token_hash == bindparam("token_hash"))


async def principal_from_token(
    *, session: AsyncSession, token: str, secret: str, cache: AccessCache | None = None
) -> Principal:
    """Resolve a bearer token: a device token, or a staff JWT.

    A staff token's signature and expiry are checked on every request; the
    account (or device) behind it is read from ``cache`` while it holds it.
    """
    device_hash: str | None = None
    user_id = 0
    stamp: str | None = None
    if token.startswith(security.DEVICE_TOKEN_PREFIX):
        device_hash = security.device_token_hash(token)
        key = f"device:{device_hash}"
    else:
        claims = security.decode_access_token(token, secret=secret)
        if claims is None:
            raise Unauthorized("invalid or expired token")
        user_id = int(claims["sub"])
        # Tokens from a login carry the password's stamp: a reset cuts them. (Tokens
        # without one -- from an engine before this check -- last until they expire.)
        raw_stamp = claims.get("pws")
        stamp = raw_stamp if isinstance(raw_stamp, str) else None
        key = f"user:{user_id}:{stamp or ''}"

    async def read() -> Principal:
        if device_hash is not None:
            device = (
                await session.execute(_DEVICE_BY_TOKEN_HASH, {"token_hash": device_hash})
            ).one_or_none()
            if device is None or not device.active:
                raise Unauthorized("unknown or revoked device token")
            return Principal("device", device.id, device.kind, device.hall_id, device.name)
        user = await session.get(User, user_id)
        if user is None or not user.active:
            raise Unauthorized("account disabled")
        if stamp is not None and stamp != security.password_stamp(
            secret=secret, password_hash=user.password_hash
        ):
            raise Unauthorized("the password was reset: log in again")
        # A region admin carries its scope: the halls below its region (auth/scope.py).
        return await scope.user_principal(session, user)

    return await cache.principal_or(key, read) if cache is not None else await read()


async def touch_device(*, session: AsyncSession, device_id: int) -> None:
    await session.execute(
        update(Device).where(Device.id == device_id).values(last_seen_at=utcnow())
    )


@dataclass(frozen=True)
class NewDevice:
    device: Device
    token: str


async def add_user(
    *,
    session: AsyncSession,
    hall: Hall | None,
    role: Role,
    username: str,
    password: str,
    region: Region | None = None,
) -> User:
    if len(password) < 8:
        raise ValidationFailed("passwords need at least 8 characters")
    if role is Role.REGION_ADMIN:
        if region is None or hall is not None:
            raise ValidationFailed("a region admin belongs to a region, not to a hall")
    elif region is not None:
        raise ValidationFailed("only a region admin belongs to a region")
    elif role is not Role.ADMIN and hall is None:
        raise ValidationFailed("managers and staff belong to a hall")
    exists = (await session.execute(select(User.id).where(User.username == username))).first()
    if exists:
        raise AccountExists(f"user {username!r} exists")
    user = User(
        hall_id=hall.id if hall else None,
        region_id=region.id if region else None,
        username=username,
        password_hash=security.hash_password(password),
        role=role.value,
        active=True,
    )
    session.add(user)
    await session.commit()
    return user


async def add_device(
    *, session: AsyncSession, hall: Hall, kind: DeviceKind, name: str
) -> NewDevice:
    exists = (
        await session.execute(
            select(Device.id).where(Device.hall_id == hall.id, Device.name == name)
        )
    ).first()
    if exists:
        raise AccountExists(f"device {name!r} exists in hall {hall.code}")
    token = security.new_device_token()
    device = Device(
        hall_id=hall.id,
        kind=kind.value,
        name=name,
        token_hash=security.device_token_hash(token),
        active=True,
    )
    session.add(device)
    await session.commit()
    return NewDevice(device, token)


async def usernames(*, session: AsyncSession, user_ids: Iterable[int]) -> dict[int, str]:
    """Account names by id (the window shows who signs in there)."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {int(i): str(name) for i, name in rows.all()}
