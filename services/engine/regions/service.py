"""Use cases of the region tree: add, rename, move and remove regions, place halls in them,
register a remote station (a hall on its own engine) under one. Each change is audited
and committed once; the access triggers announce it (region admins' scopes change)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.engine.audit import repository as audit
from services.engine.auth import scope
from services.engine.core.db import utcnow
from services.engine.core.errors import NotFound
from services.engine.halls import repository as halls_repo
from services.engine.halls.models import Hall
from services.engine.regions import repository, rules
from services.engine.regions.models import Region
from services.engine.regions.rules import RegionInUse, RegionRefused


async def get_region(session: AsyncSession, code: str) -> Region:
    rules.check_code(code)
    region = await repository.by_code(session, code)
    if region is None:
        raise NotFound(f"no region {code}")
    return region


@dataclass(frozen=True)
class RegionSpec:
    """A region as the hall file or the API gives it; parent None: implied by the code
    when that region exists, else a root."""

    code: str
    name: str
    parent: str | None = None
    parent_given: bool = False  # an explicit parent (None then means: a root)


async def _parent_of(
    session: AsyncSession, spec: RegionSpec, region: Region | None
) -> Region | None:
    """The parent given; else the one the code implies, when it exists; else the
    region's present parent (a region is never moved by what it does not say)."""
    if spec.parent_given:
        return await get_region(session, spec.parent) if spec.parent else None
    implied = rules.implied_parent(spec.code)
    found = await repository.by_code(session, implied) if implied else None
    if found is None and region is not None and region.parent_id is not None:
        found = await repository.by_id(session, region.parent_id)
    return found


async def put_region(
    *, session: AsyncSession, spec: RegionSpec, actor: str, commit: bool = True
) -> tuple[Region, bool]:
    """Add the region, or rename or move it. Returns it and whether anything changed."""
    code = rules.check_code(spec.code)
    name = rules.check_name(spec.name)
    region = await repository.by_code(session, code)
    parent = await _parent_of(session, spec, region)
    rules.check_child(code, parent.code if parent else None)
    now = utcnow()
    changed = False
    if region is None:
        region = Region(
            code=code,
            name=name,
            level=rules.level_of(code).name.lower(),
            parent_id=parent.id if parent else None,
            path=rules.path_of(code, parent.path if parent else None),
            created_at=now,
            updated_at=now,
        )
        session.add(region)
        audit.record(
            session,
            None,
            "region.add",
            f"region {code}",
            actor=actor,
            at=now,
            after={"code": code, "name": name, "parent": parent.code if parent else None},
        )
        changed = True
    else:
        before = {"name": region.name, "path": region.path}
        new_path = rules.path_of(code, parent.path if parent else None)
        if parent is not None and rules.is_below(parent.path, region.path):
            raise RegionRefused(f"{code} cannot move below its own region {parent.code}")
        if new_path != region.path:
            old = region.path
            for below in await repository.below(session, region):
                below.path = new_path + below.path[len(old) :]
                below.updated_at = now
            region.parent_id = parent.id if parent else None
            changed = True
        if region.name != name:
            region.name = name
            changed = True
        if changed:
            region.updated_at = now
            audit.record(
                session,
                None,
                "region.change",
                f"region {code}",
                actor=actor,
                at=now,
                before=before,
                after={"name": region.name, "path": region.path},
            )
    await session.flush()
    if commit:
        await session.commit()
    return region, changed


async def remove_region(*, session: AsyncSession, code: str, actor: str) -> None:
    """A region with nothing below it (no region, hall or account) may go."""
    region = await get_region(session, code)
    regions, halls = await repository.children_count(session, region.id)
    accounts = await scope.accounts_of_region(session, region.id)
    if regions or halls or accounts:
        raise RegionInUse(
            f"region {code} still has {regions} regions, {halls} halls and "
            f"{accounts} accounts below it",
            regions=regions,
            halls=halls,
            accounts=accounts,
        )
    await session.delete(region)
    audit.record(
        session, None, "region.remove", f"region {code}", actor=actor, at=utcnow(), before=code
    )
    await session.commit()


async def place_hall(
    *, session: AsyncSession, hall_code: str, region_code: str | None, actor: str
) -> Hall:
    """Put a hall in a region (None: in none)."""
    hall = await halls_repo.get_hall_by_code(session, hall_code)
    if hall is None:
        raise NotFound(f"no hall {hall_code!r}")
    region = await get_region(session, region_code) if region_code else None
    new = region.id if region else None
    if hall.region_id != new:
        audit.record(
            session,
            hall.id,
            "hall.region",
            f"hall {hall.code}",
            actor=actor,
            at=utcnow(),
            before={"region_id": hall.region_id},
            after={"region": region_code},
        )
        hall.region_id = new
        hall.updated_at = utcnow()
    await session.commit()
    return hall


async def register_station(
    *, session: AsyncSession, code: str, name: str, region_code: str, actor: str
) -> Hall:
    """Register a remote station (a hall that runs its own engine) under a region.

    It gets a hall row flagged ``remote``: no services or windows here; its daily
    figures reach the region's reports by ``jiaohao stats push`` (docs/statistics.md).
    """
    region = await get_region(session, region_code)
    hall = await halls_repo.get_hall_by_code(session, code)
    if hall is not None and not hall.remote:
        raise RegionRefused(f"hall {code!r} runs on this engine: it is not a remote station")
    if hall is None:
        hall = Hall(code=code, name=name, remote=True, region_id=None, event_seq=0)
        session.add(hall)
        await session.flush()
        action = "station.add"
    else:
        hall.name = name
        action = "station.change"
    # Placed by an update, not with the insert: the halls trigger announces updates
    # (migration 0007), so the region admins' kept scopes take the station in at once.
    hall.region_id = region.id
    hall.updated_at = utcnow()
    audit.record(
        session,
        hall.id,
        action,
        f"hall {code}",
        actor=actor,
        at=utcnow(),
        after={"name": name, "region": region_code, "remote": True},
    )
    await session.commit()
    return hall


@dataclass(frozen=True)
class TreeLine:
    region: Region
    halls: list[Hall]


async def tree(session: AsyncSession, top: Region | None) -> list[TreeLine]:
    """Regions (all, or ``top`` and below) with the halls placed directly in each."""
    regions: Sequence[Region] = (
        await repository.below(session, top) if top else await repository.all_regions(session)
    )
    halls = (
        await repository.halls_below(session, top)
        if top
        else [h for h in await halls_repo.list_halls(session) if h.region_id is not None]
    )
    by_region: dict[int, list[Hall]] = {}
    for hall in halls:
        if hall.region_id is not None:
            by_region.setdefault(hall.region_id, []).append(hall)
    return [TreeLine(r, by_region.get(r.id, [])) for r in regions]


async def apply_hall_regions(
    *,
    session: AsyncSession,
    hall: Hall,
    regions: Sequence[RegionSpec],
    region_code: str | None,
) -> list[str]:
    """The hall file's part (``[[region]]`` tables, ``[hall] region``), in the caller's
    transaction: regions added or renamed widest first, then the hall placed. Returns
    what changed, as ``hall apply`` reports it."""
    changes: list[str] = []
    ordered = sorted(regions, key=lambda r: -rules.level_of(rules.check_code(r.code)))
    for spec in ordered:
        region, changed = await put_region(
            session=session, spec=spec, actor="cli:hall-apply", commit=False
        )
        if changed:
            changes.append(f"region {region.code} {region.name}: {region.path}")
    if region_code is not None:
        region = await get_region(session, region_code)
        if hall.region_id != region.id:
            changes.append(f"hall: region -> {region.code} ({region.name})")
            hall.region_id = region.id
    return changes
