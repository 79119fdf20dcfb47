"""The bad-review case (差评工单) and its steps. Pure.

待回访 -> 已回访 -> 已核实 (valid) -> 整改中 -> 已整改 -> 已反馈 -> 已回评 -> 已办结.
Verified invalid (误评、恶意差评) it goes to 申诉复核 instead; the staff member rated
may also appeal their own case before it is rectified. A manager (or a region
administrator) decides: upheld closes it as invalid (kept, left out of the indicators),
rejected sends it on to rectification. A case is appealed once. A step that does not
follow the current state is refused with ``case_step_out_of_order``.
"""

from __future__ import annotations

from enum import StrEnum

from services.engine.auth.permissions import Role
from services.engine.core.errors import AppealRefused, CaseStepRefused, Forbidden


class CaseState(StrEnum):
    PENDING_CONTACT = "pending_contact"  # 待回访
    CONTACTED = "contacted"  # 已回访
    APPEALING = "appealing"  # 申诉复核中
    VERIFIED = "verified"  # 已核实 (有效差评)
    RECTIFYING = "rectifying"  # 整改中
    RECTIFIED = "rectified"  # 已整改
    REPLIED = "replied"  # 已反馈 (the reply is published)
    SURVEYED = "surveyed"  # 已回评: the citizen's satisfaction with the rectification
    CLOSED = "closed"  # 已办结


STATE_WORDS = {
    CaseState.PENDING_CONTACT: "待回访",
    CaseState.CONTACTED: "已回访",
    CaseState.APPEALING: "申诉复核中",
    CaseState.VERIFIED: "已核实",
    CaseState.RECTIFYING: "整改中",
    CaseState.RECTIFIED: "已整改",
    CaseState.REPLIED: "已反馈",
    CaseState.SURVEYED: "已回评",
    CaseState.CLOSED: "已办结",
}


class Step(StrEnum):
    CONTACT = "contact"  # 回访: date, channel, result, notes
    VERIFY = "verify"  # 核实: valid, or invalid with a reason (-> 申诉复核)
    APPEAL = "appeal"  # the rated staff member's appeal (申诉)
    DECIDE = "decide"  # 复核: upheld (invalid, excluded) or rejected (-> rectify)
    PLAN = "plan"  # 整改中: measure and responsible person
    RECTIFIED = "rectified"  # 已整改
    REPLY = "reply"  # 反馈: the reply to the citizen, published
    SATISFACTION = "satisfaction"  # 回访满意度
    CLOSE = "close"  # 办结


# From which states a step may be taken. Decide and verify pick their target below.
_FROM: dict[Step, frozenset[CaseState]] = {
    Step.CONTACT: frozenset({CaseState.PENDING_CONTACT}),
    Step.VERIFY: frozenset({CaseState.CONTACTED}),
    Step.APPEAL: frozenset({CaseState.PENDING_CONTACT, CaseState.CONTACTED, CaseState.VERIFIED}),
    Step.DECIDE: frozenset({CaseState.APPEALING}),
    Step.PLAN: frozenset({CaseState.VERIFIED}),
    Step.RECTIFIED: frozenset({CaseState.RECTIFYING}),
    Step.REPLY: frozenset({CaseState.RECTIFIED}),
    Step.SATISFACTION: frozenset({CaseState.REPLIED}),
    Step.CLOSE: frozenset({CaseState.SURVEYED}),
}
_TO: dict[Step, CaseState] = {
    Step.CONTACT: CaseState.CONTACTED,
    Step.APPEAL: CaseState.APPEALING,
    Step.PLAN: CaseState.RECTIFYING,
    Step.RECTIFIED: CaseState.RECTIFIED,
    Step.REPLY: CaseState.REPLIED,
    Step.SATISFACTION: CaseState.SURVEYED,
    Step.CLOSE: CaseState.CLOSED,
}

# 回访满意度: the citizen's satisfaction with the rectification; no_answer when the
# citizen could not be reached or did not say.
SATISFACTION = {
    "satisfied": "满意",
    "basic": "基本满意",
    "unsatisfied": "不满意",
    "no_answer": "未回复",
}


def next_state(
    state: CaseState,
    step: Step,
    *,
    valid: bool | None = None,
    upheld: bool | None = None,
    appealed_before: bool = False,
) -> CaseState:
    """The state after ``step``; refuses a step out of order.

    ``valid`` answers a verification (False sends the case to 申诉复核); ``upheld``
    answers an appeal decision (True closes the case as an invalid review).
    """
    if step is Step.APPEAL and appealed_before:
        raise AppealRefused("this bad review has already been appealed once")
    if state not in _FROM[step]:
        if step is Step.APPEAL:
            raise AppealRefused(
                f"a case that is {STATE_WORDS[state]} cannot be appealed", state=state.value
            )
        raise CaseStepRefused(
            f"'{step.value}' cannot follow a case that is {state.value} ({STATE_WORDS[state]})",
            state=state.value,
            step=step.value,
        )
    if step is Step.VERIFY:
        if valid is None:
            raise ValueError("a verification says valid or not")
        return CaseState.VERIFIED if valid else CaseState.APPEALING
    if step is Step.DECIDE:
        if upheld is None:
            raise ValueError("an appeal decision says upheld or not")
        return CaseState.CLOSED if upheld else CaseState.VERIFIED
    return _TO[step]


def may_appeal(state: CaseState, appealed_before: bool) -> bool:
    """Whether the rated staff member may still appeal (申诉) the case: once, before it
    is rectified (a case verified invalid is already under 申诉复核)."""
    return not appealed_before and state in _FROM[Step.APPEAL]


def is_open(state: CaseState) -> bool:
    return state is not CaseState.CLOSED


def counts_for_rectification(state: CaseState) -> bool:
    """Whether the rectification deadline still runs (not yet rectified, not closed)."""
    return state in (
        CaseState.PENDING_CONTACT,
        CaseState.CONTACTED,
        CaseState.VERIFIED,
        CaseState.RECTIFYING,
    )


class AppealDecidedAbove(Forbidden):
    code = "appeal_decided_by_region"
    title = "A region admin above the hall decides this appeal"


def check_decider(role: str, *, region_admin_above: bool) -> None:
    """Who decides an appeal (申诉复核): the region admin above the hall when the hall has
    one (the hall does not judge its own staff's appeal), else the hall's manager. A
    city-wide administrator may always decide."""
    if role == Role.ADMIN.value or (role == Role.REGION_ADMIN.value and region_admin_above):
        return
    if role == Role.MANAGER.value:
        if region_admin_above:
            raise AppealDecidedAbove(
                "a region admin oversees this hall: the appeal is theirs to decide"
            )
        return
    raise Forbidden("only a manager, or the region admin above the hall, decides an appeal")
