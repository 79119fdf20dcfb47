"""Rating endpoint (好差评)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from services.engine.auth.permissions import DeviceKind
from services.engine.core.errors import Forbidden
from services.engine.deps import RateAccess, ReadAccess, RowId, SessionDep, SettingsDep
from services.engine.evaluations import service
from services.engine.evaluations.models import Evaluation
from services.engine.evaluations.rules import reason_missing
from services.engine.reviews import service as reviews
from services.engine.windows.repository import window_numbers

router = APIRouter(prefix="/api/v1/halls/{hall}", tags=["evaluations"])


class EvaluationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: int = Field(
        ge=1, le=5, description="5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意"
    )
    reasons: list[str] = Field(default_factory=list, max_length=10)
    comment: str | None = Field(default=None, max_length=500)
    items: (
        dict[Literal["efficiency", "skill", "attitude"], Annotated[int, Field(ge=1, le=5)]] | None
    ) = Field(default=None, description="评价内容: 服务效率, 服务水平, 服务态度 (levels 1-5)")
    content_version: str | None = Field(default=None, max_length=16)
    callback_phone: str | None = Field(
        default=None,
        max_length=20,
        description="a 差评's callback phone, given by the citizen (kept encrypted)",
    )
    from_pad: bool = Field(
        default=False,
        description=(
            "a gateway relays a key press on an evaluation pad (评价器); a pad has only its "
            "level keys, so its 差评 is recorded without a reason (reason_missing)"
        ),
    )


class EvaluationOut(BaseModel):
    id: int
    ticket_id: int
    level: int
    reasons: list[str]
    comment: str | None
    window: int | None
    staff_user_id: int | None
    channel: str = Field(
        description="where the citizen rated: gateway (evaluation pad), kiosk, qr, sms, "
        "partner, system_default (默认评价, never an active rating)"
    )
    reason_missing: bool = Field(
        description="a 差评 without any reason: pressed on a pad that cannot take one"
    )
    created_at: datetime


def _out(evaluation: Evaluation, numbers: dict[int, int]) -> EvaluationOut:
    return EvaluationOut(
        id=evaluation.id,
        ticket_id=evaluation.ticket_id,
        level=evaluation.level,
        reasons=evaluation.reasons,
        comment=evaluation.comment,
        window=numbers.get(evaluation.window_id) if evaluation.window_id else None,
        staff_user_id=evaluation.staff_user_id,
        channel=evaluation.channel,
        reason_missing=reason_missing(evaluation.level, evaluation.reasons, evaluation.comment),
        created_at=evaluation.created_at,
    )


@router.post(
    "/tickets/{ticket_id}/evaluation",
    status_code=status.HTTP_201_CREATED,
    response_model=EvaluationOut,
)
async def rate(
    ticket_id: RowId,
    body: EvaluationIn,
    access: RateAccess,
    session: SessionDep,
    settings: SettingsDep,
) -> EvaluationOut:
    """Record the citizen's rating of a finished ticket (from an evaluation pad or kiosk)."""
    if body.from_pad and access.principal.role != DeviceKind.GATEWAY.value:
        raise Forbidden("only a hall gateway relays evaluation pad presses")
    # A 差评 opens its bad-review case (差评工单) in the same transaction.
    evaluation, _ = await reviews.rate(
        session=session,
        hall=access.hall,
        ticket_id=ticket_id,
        level=body.level,
        reasons=body.reasons,
        comment=body.comment,
        channel=access.principal.role,
        pii_key=settings.pii_key,
        from_pad=body.from_pad,
        items={str(k): v for k, v in body.items.items()} if body.items else None,
        content_version=body.content_version,
        callback_phone=body.callback_phone,
    )
    return _out(evaluation, await window_numbers(session, access.hall.id))


@router.get("/tickets/{ticket_id}/evaluation", response_model=EvaluationOut)
async def get_rating(ticket_id: RowId, access: ReadAccess, session: SessionDep) -> EvaluationOut:
    """The rating of a ticket; ``not_found`` when it has none (未评价). Not for hall screens."""
    if access.principal.role == DeviceKind.DISPLAY.value:
        raise Forbidden("a hall display does not read ratings")
    evaluation = await service.get_evaluation(
        session=session, hall=access.hall, ticket_id=ticket_id
    )
    return _out(evaluation, await window_numbers(session, access.hall.id))
