"""Staff accounts of a hall, managed from the manager's pages (账号管理).

A manager manages the staff accounts of their own hall; an administrator every account
of the hall (staff and managers). A new or reset password is generated here and shown
once; only its hash is kept. Every change is in the audit log (never the password).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.audit import repository as audit
from services.engine.auth import security
from services.engine.auth.models import User
from services.engine.auth.permissions import Principal, Role
from services.engine.auth.service import AccountExists
from services.engine.core.db import utcnow
from services.engine.core.errors import Forbidden, NotFound
from services.engine.halls.models import Hall

# Letters and digits a clerk reads off a screen without confusing them (no 0/O, 1/l/I).
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_LENGTH = 12


def new_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(PASSWORD_LENGTH))


def roles_managed_by(role: str) -> frozenset[str]:
    """Which accounts of their hall a caller may add and change."""
    if role == Role.ADMIN.value:
        return frozenset({Role.STAFF.value, Role.MANAGER.value})
    if role == Role.MANAGER.value:
        return frozenset({Role.STAFF.value})
    return frozenset()


def ensure_may_manage(principal: Principal, role: str) -> None:
    if role not in roles_managed_by(principal.role):
        raise Forbidden(f"a {principal.role} may not manage {role} accounts")


async def list_accounts(session: AsyncSession, hall: Hall) -> Sequence[User]:
    return (
        (await session.execute(select(User).where(User.hall_id == hall.id).order_by(User.username)))
        .scalars()
        .all()
    )


async def _hash(password: str) -> str:
    # Argon2 is slow on purpose: off the event loop.
    return await asyncio.to_thread(security.hash_password, password)


async def add_account(
    *, session: AsyncSession, hall: Hall, username: str, role: Role, principal: Principal
) -> tuple[User, str]:
    """A new account of the hall with a generated password (returned, shown once)."""
    ensure_may_manage(principal, role.value)
    exists = (await session.execute(select(User.id).where(User.username == username))).first()
    if exists:
        raise AccountExists(f"user {username!r} exists", username=username)
    password = new_password()
    user = User(
        hall_id=hall.id,
        username=username,
        password_hash=await _hash(password),
        role=role.value,
        active=True,
    )
    session.add(user)
    await session.flush()
    audit.record(
        session,
        hall.id,
        "account.add",
        f"account {username}",
        actor=principal.actor,
        at=utcnow(),
        after={"username": username, "role": role.value},
    )
    await session.commit()
    return user, password


async def _target(session: AsyncSession, hall: Hall, user_id: int, principal: Principal) -> User:
    user = (
        await session.execute(
            select(User).where(User.id == user_id, User.hall_id == hall.id).with_for_update()
        )
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no account {user_id} in this hall")
    ensure_may_manage(principal, user.role)
    if user.id == principal.user_id:
        raise Forbidden("an account does not change itself here")
    return user


async def set_active(
    *, session: AsyncSession, hall: Hall, user_id: int, active: bool, principal: Principal
) -> User:
    """停用 / 启用: a disabled account's tokens and open screens stop working at once."""
    user = await _target(session, hall, user_id, principal)
    if user.active != active:
        before = user.active
        user.active = active
        audit.record(
            session,
            hall.id,
            "account.enable" if active else "account.disable",
            f"account {user.username}",
            actor=principal.actor,
            at=utcnow(),
            before={"active": before},
            after={"active": active},
        )
    await session.commit()
    return user


async def reset_password(
    *, session: AsyncSession, hall: Hall, user_id: int, principal: Principal
) -> tuple[User, str]:
    """A new generated password (returned, shown once); the old one stops working."""
    user = await _target(session, hall, user_id, principal)
    password = new_password()
    user.password_hash = await _hash(password)
    audit.record(
        session,
        hall.id,
        "account.reset_password",
        f"account {user.username}",
        actor=principal.actor,
        at=utcnow(),
    )
    await session.commit()
    return user, password


# -- the operator at the server (``jiaohao user ...``): any account, audited as "cli" ------

OPERATOR = "cli:operator"


async def list_all(session: AsyncSession, hall_id: int | None) -> Sequence[User]:
    query = select(User).order_by(User.hall_id, User.username)
    if hall_id is not None:
        query = query.where(User.hall_id == hall_id)
    return (await session.execute(query)).scalars().all()


async def _by_username(session: AsyncSession, username: str) -> User:
    user = (
        await session.execute(select(User).where(User.username == username).with_for_update())
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no account {username!r}")
    return user


async def operator_set_active(*, session: AsyncSession, username: str, active: bool) -> User:
    user = await _by_username(session, username)
    if user.active != active:
        audit.record(
            session,
            user.hall_id,
            "account.enable" if active else "account.disable",
            f"account {username}",
            actor=OPERATOR,
            at=utcnow(),
            before={"active": user.active},
            after={"active": active},
        )
        user.active = active
    await session.commit()
    return user


async def operator_reset_password(*, session: AsyncSession, username: str) -> tuple[User, str]:
    user = await _by_username(session, username)
    password = new_password()
    user.password_hash = await _hash(password)
    audit.record(
        session,
        user.hall_id,
        "account.reset_password",
        f"account {username}",
        actor=OPERATOR,
        at=utcnow(),
    )
    await session.commit()
    return user, password
