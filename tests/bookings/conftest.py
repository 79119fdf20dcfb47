"""Fixtures of the booking tests: a hall that takes bookings, a partner signing its requests."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers.bookings import BOOKING_HALL, PartnerClient, add_partner
from tests.helpers.halls import Hall, seed_hall


@pytest.fixture
async def bhall(app, client: httpx.AsyncClient) -> Hall:  # type: ignore[no-untyped-def]
    return await seed_hall(app, client, BOOKING_HALL)


@pytest.fixture
async def partner(app, client: httpx.AsyncClient, bhall: Hall) -> PartnerClient:  # type: ignore[no-untyped-def]
    partner_id, key_id, secret = await add_partner(app, bhall.code)
    return PartnerClient(client, key_id, secret, bhall.code, partner_id)
