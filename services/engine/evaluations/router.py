"""Rating endpoint (好差评)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from services.engine.deps import RateAccess, SessionDep
from services.engine.evaluations import service
from services.engine.windows.repository import window_numbers

router = APIRouter(prefix="/api/v1/halls/{hall}", tags=["evaluations"])


class EvaluationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: int = Field(
        ge=1, le=5, description="5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意"
    )
    reasons: list[str] = Field(default_factory=list, max_length=10)
    comment: str | None = Field(default=None, max_length=500)


class EvaluationOut(BaseModel):
    id: int
    ticket_id: int
    level: int
    reasons: list[str]
    comment: str | None
    window: int | None
    staff_user_id: int | None
    created_at: datetime


@router.post(
    "/tickets/{ticket_id}/evaluation",
    status_code=status.HTTP_201_CREATED,
    response_model=EvaluationOut,
)
async def rate(
    ticket_id: int, body: EvaluationIn, access: RateAccess, session: SessionDep
) -> EvaluationOut:
    """Record the citizen's rating of a finished ticket (from an evaluation pad or kiosk)."""
    evaluation = await service.rate_ticket(
        session=session,
        hall=access.hall,
        ticket_id=ticket_id,
        level=body.level,
        reasons=body.reasons,
        comment=body.comment,
        principal=access.principal,
    )
    numbers = await window_numbers(session, access.hall.id)
    return EvaluationOut(
        id=evaluation.id,
        ticket_id=evaluation.ticket_id,
        level=evaluation.level,
        reasons=evaluation.reasons,
        comment=evaluation.comment,
        window=numbers.get(evaluation.window_id) if evaluation.window_id else None,
        staff_user_id=evaluation.staff_user_id,
        created_at=evaluation.created_at,
    )
