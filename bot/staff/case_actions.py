"""What the forms on the case page do: change the status, assign, add a note, reply to the
citizen, transfer to another unit, correct the legal type, forward to a competent body and record
its answer, record the outcome (POSTs under ``/staff/cases/{id}/``).

Each runs in a savepoint; a refusal (``CaseworkError``) shows the case page again with the
reason, a success redirects back to it (or to the queue if the case left the officer's sight).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.cases import casework
from bot.cases.casework import CaseworkError
from bot.cases.forwarding import forward_case, record_body_answer
from bot.cases.legal_type_record import set_legal_type
from bot.cases.linking import split_case
from bot.cases.outcome import record_outcome
from bot.db.models import ActorKind, Case, CaseForwarding, CaseStatus
from bot.staff import case_page
from bot.staff.case_legal import parse_day
from bot.staff.context import StaffContext, console_view, not_found_page, redirect


def _case_action(
    done: str, act: Callable[[StaffContext, Case], Any]
) -> Callable[[StaffContext], web.StreamResponse]:
    """A POST on a visible case: run ``act`` in a savepoint; on a CaseworkError show it."""

    def handler(ctx: StaffContext) -> web.StreamResponse:
        case_id = ctx.match_int("case_id")
        case = ctx.case(case_id) if case_id is not None else None
        if case is None:
            return not_found_page()
        try:
            with ctx.session.begin_nested():
                act(ctx, case)
        except CaseworkError as error:
            ctx.session.expire_all()
            fresh = ctx.case(case.id)
            if fresh is None:
                return not_found_page()
            return case_page.render(ctx, fresh, error=str(error), status=422)
        ctx.session.expire_all()
        if ctx.case(case.id) is None:  # transferred out of sight
            return redirect(f"/staff/cases?done={done}")
        return redirect(f"/staff/cases/{case.id}?done={done}")

    handler.__name__ = f"case_{done}"
    return handler


def _cluster_too(ctx: StaffContext, case: Case) -> list[Case]:
    """The other cases of the same-issue cluster, when the officer ticked "cho cả nhóm"."""
    if ctx.field("whole_cluster") != "1":
        return []
    return case_page.together_with(ctx, case)


def _status(ctx: StaffContext, case: Case) -> None:
    try:
        status = CaseStatus(ctx.field("status"))
    except ValueError:
        raise CaseworkError("Hãy chọn trạng thái mới.") from None
    note = ctx.field("note") or None
    casework.change_status(ctx.session, case.id, status, actor=ctx.actor, note=note)
    for other in _cluster_too(ctx, case):
        # Each case moves only if its own state allows it (a finished one stays as it is).
        if status in casework.ALLOWED_TRANSITIONS[CaseStatus(other.status)]:
            casework.change_status(ctx.session, other.id, status, actor=ctx.actor, note=note)


def _assign(ctx: StaffContext, case: Case) -> None:
    raw = ctx.field("staff_id").strip()
    if not raw:
        casework.assign(ctx.session, case.id, None, actor=ctx.actor)
        return
    if not raw.isdigit():
        raise CaseworkError("Cán bộ không hợp lệ.")
    staff_id = int(raw)
    if staff_id not in {int(s.id) for s in case_page.assignable(ctx, case)}:
        raise CaseworkError("Chỉ giao được cho cán bộ của đơn vị bạn phụ trách.")
    casework.assign(ctx.session, case.id, staff_id, actor=ctx.actor)


def _note(ctx: StaffContext, case: Case) -> None:
    casework.add_note(ctx.session, case.id, ctx.field("text"), actor=ctx.actor)


def _reply(ctx: StaffContext, case: Case) -> None:
    """Every citizen of the cluster gets the reply in their own channel (issue 15)."""
    text = ctx.field("text")
    casework.reply_to_citizen(ctx.session, case.id, text, actor=ctx.actor)
    for other in _cluster_too(ctx, case):
        casework.reply_to_citizen(ctx.session, other.id, text, actor=ctx.actor)


def _split(ctx: StaffContext, case: Case) -> None:
    split_case(ctx.session, case.id, actor_kind=ActorKind.STAFF, actor_id=str(ctx.staff.id))


def _legal_type(ctx: StaffContext, case: Case) -> None:
    set_legal_type(ctx.session, case.id, ctx.field("legal_type").strip() or None, ctx.actor)


def _transfer(ctx: StaffContext, case: Case) -> None:
    casework.transfer(
        ctx.session,
        case.id,
        ctx.field("unit_code"),
        actor=ctx.actor,
        note=ctx.field("note") or None,
    )


def _forward(ctx: StaffContext, case: Case) -> None:
    forward_case(ctx.session, case.id, body_name=ctx.field("body_name"),
                 method=ctx.field("method"), reference=ctx.field("reference"),
                 forwarded_on=parse_day(ctx.field("forwarded_on"), "ngày chuyển"),
                 actor=ctx.actor)


def _body_answer(ctx: StaffContext, case: Case) -> None:
    forwarding_id = ctx.match_int("forwarding_id")
    row = ctx.session.get(CaseForwarding, forwarding_id) if forwarding_id is not None else None
    if row is None or row.case_id != case.id:
        raise CaseworkError("Không tìm thấy lần chuyển hồ sơ này.")
    record_body_answer(ctx.session, row.id, text=ctx.field("text"),
                       reference=ctx.field("reference") or None,
                       answered_on=parse_day(ctx.field("answered_on"), "ngày cơ quan trả lời"),
                       actor=ctx.actor)


def _outcome(ctx: StaffContext, case: Case) -> None:
    record_outcome(ctx.session, case.id, action_text=ctx.field("action_text"),
                   done_by=ctx.field("done_by"),
                   done_on=parse_day(ctx.field("done_on"), "ngày thực hiện"),
                   evidence_url=ctx.field("evidence_url") or None, actor=ctx.actor)


case_status = console_view()(_case_action("status", _status))
case_assign = console_view()(_case_action("assign", _assign))
case_note = console_view()(_case_action("note", _note))
case_reply = console_view()(_case_action("reply", _reply))
case_transfer = console_view()(_case_action("transfer", _transfer))
case_legal_type = console_view()(_case_action("legal_type", _legal_type))
case_split = console_view()(_case_action("split", _split))
case_forward = console_view()(_case_action("forward", _forward))
case_body_answer = console_view()(_case_action("body_answer", _body_answer))
case_outcome = console_view()(_case_action("outcome", _outcome))


def setup_routes(app: web.Application) -> None:
    app.router.add_post(r"/staff/cases/{case_id:\d+}/status", case_status)
    app.router.add_post(r"/staff/cases/{case_id:\d+}/assign", case_assign)
    app.router.add_post(r"/staff/cases/{case_id:\d+}/note", case_note)
    app.router.add_post(r"/staff/cases/{case_id:\d+}/reply", case_reply)
    app.router.add_post(r"/staff/cases/{case_id:\d+}/transfer", case_transfer)
    app.router.add_post(r"/staff/cases/{case_id:\d+}/legal-type", case_legal_type)
    app.router.add_post(r"/staff/cases/{case_id:\d+}/split", case_split)
    app.router.add_post(r"/staff/cases/{case_id:\d+}/forward", case_forward)
    app.router.add_post(
        r"/staff/cases/{case_id:\d+}/forwardings/{forwarding_id:\d+}/answer", case_body_answer)
    app.router.add_post(r"/staff/cases/{case_id:\d+}/outcome", case_outcome)
