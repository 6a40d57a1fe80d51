"""JSON API under ``/api/v1`` for other tools: the console's operations with bearer tokens.

Tokens come from ``./mttq accounts token --login ...``. Visibility is the console's: a case
of a unit the token's owner cannot see is 404, like one that does not exist. Errors are
``{"error": "<Vietnamese sentence>"}`` with 400 (malformed request), 401 (no or bad token),
404 (no such case) or 422 (the action is refused, e.g. "rejected" without a reason).

    GET  /api/v1/cases?status=&category=&unit=&overdue=1&mine=1&q=&page=&per_page=
    GET  /api/v1/cases/{id}
    POST /api/v1/cases/{id}/status    {"status": "resolved", "note": "..."}
    POST /api/v1/cases/{id}/assign    {"staff_id": 7}   (null: unassign)
    POST /api/v1/cases/{id}/notes     {"text": "..."}
    POST /api/v1/cases/{id}/replies   {"text": "..."}
    POST /api/v1/cases/{id}/transfer  {"unit_code": "p_lang", "note": "..."}
    POST /api/v1/cases/{id}/outcome   {"action_text": "...", "done_by": "...", "done_on": "2026-12-01",
                                       "evidence_url": "https://..."}   (before resolved/closed)
    POST /api/v1/cases/{id}/forwardings  {"body_name": "...", "method": "letter|portal|other",
                                          "reference": "...", "forwarded_on": "2026-12-01"}
    POST /api/v1/cases/{id}/forwardings/{fid}/answer  {"text": "...", "reference": "...",
                                                       "answered_on": "2026-12-03"}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.cases import casework
from bot.cases.casework import STATUS_LABELS, CaseworkError
from bot.cases.forwarding import case_forwardings, forward_case, record_body_answer
from bot.cases.identity import may_see_identity, record_identity_view
from bot.cases.outcome import case_outcomes, record_outcome
from bot.db.models import ActorKind, Case, CaseForwarding, CaseNote, CaseStatus, Outbox, Staff
from bot.staff import queries
from bot.staff.context import AioHandler, StaffContext, api_view, api_view_writing, json_error

NOT_FOUND = "Không tìm thấy hồ sơ."


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _case_summary(ctx: StaffContext, case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "ref_code": case.ref_code,
        "kind": case.kind.value,
        "category": case.category,
        "status": CaseStatus(case.status).value,
        "status_label": STATUS_LABELS[CaseStatus(case.status)],
        "unit_code": case.unit_code,
        "unit_name": ctx.unit_name(case.unit_code),
        "assignee_id": case.assignee_id,
        "content": case.content,
        "location_text": case.location_text,
        "channel": case.channel,
        "sla_due_at": _time(case.sla_due_at),
        "overdue": queries.is_overdue(case, ctx.now),
        "rating": case.rating,
        "created_at": _time(case.created_at),
        "updated_at": _time(case.updated_at),
    }


def _case_detail(ctx: StaffContext, case: Case) -> dict[str, Any]:
    data = _case_summary(ctx, case)
    shown = case.consent and may_see_identity(case, ctx.staff)
    data["person_name"] = case.person_name if shown else None
    data["phone"] = case.phone if shown else None
    shown_sender = may_see_identity(case, ctx.staff)
    data["identity_protected"] = not shown_sender
    if shown and (case.person_name or case.phone):
        record_identity_view(ctx.session, case, ctx.staff, where="api")
    data["attachments"] = [
        {"kind": a.kind.value, "url": a.url, "payload": a.payload} for a in case.attachments
    ]
    data["events"] = [
        {
            "id": e.id,
            "actor_kind": e.actor_kind.value,
            # A citizen actor's id is their channel id: part of a protected sender's identity.
            "actor_id": None if e.actor_kind == ActorKind.CITIZEN and not shown_sender
            else e.actor_id,
            "action": e.action,
            "detail": e.detail,
            "created_at": _time(e.created_at),
        }
        for e in queries.case_events(ctx.session, case.id)
    ]
    data["notes"] = [
        {"id": n.id, "actor_id": n.actor_id, "text": n.text, "created_at": _time(n.created_at)}
        for n in ctx.session.execute(
            select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)
        ).scalars()
    ]
    data["messages"] = [
        {
            "id": o.id,
            "kind": o.kind,
            "status": o.status.value,
            "attempts": o.attempts,
            "last_error": o.last_error,
            "text": o.payload.get("text") if isinstance(o.payload, dict) else None,
            "created_at": _time(o.created_at),
            "sent_at": _time(o.sent_at),
        }
        for o in ctx.session.execute(
            select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)
        ).scalars()
    ]
    data["forwardings"] = [
        {"id": f.id, "body_name": f.body_name, "method": f.method, "reference": f.reference,
         "forwarded_on": _day(f.forwarded_on), "answer_due_on": _day(f.answer_due_on),
         "due_basis": f.due_basis, "answer_text": f.answer_text,
         "answer_reference": f.answer_reference, "answered_on": _day(f.answered_on)}
        for f in case_forwardings(ctx.session, case.id)
    ]
    data["outcomes"] = [
        {"id": o.id, "action_text": o.action_text, "done_by": o.done_by,
         "done_on": _day(o.done_on), "recorded_by": o.recorded_by, "evidence_id": o.evidence_id}
        for o in case_outcomes(ctx.session, case.id)
    ]
    return data


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date(body: Mapping[str, Any], name: str) -> date:
    raw = _text(body, name, required=True) or ""
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _BadRequest(f"Trường «{name}» phải là ngày dạng YYYY-MM-DD.") from None


@api_view
def list_cases(ctx: StaffContext) -> web.StreamResponse:
    f = queries.CaseFilter.from_query(ctx.request.query)
    cases, total = queries.queue(ctx.session, f, int(ctx.staff.id), ctx.visible, ctx.now)
    return web.json_response(
        {
            "cases": [_case_summary(ctx, c) for c in cases],
            "total": total,
            "page": f.page,
            "per_page": f.per_page,
        }
    )


def _visible_case(ctx: StaffContext) -> Case | None:
    case_id = ctx.match_int("case_id")
    return ctx.case(case_id) if case_id is not None else None


@api_view_writing  # showing a protected sender writes an audit row
def get_case(ctx: StaffContext) -> web.StreamResponse:
    case = _visible_case(ctx)
    if case is None:
        return json_error(404, NOT_FOUND)
    return web.json_response(_case_detail(ctx, case))


def _text(body: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _BadRequest(f"Trường «{name}» phải là chuỗi ký tự.")
    return value


class _BadRequest(Exception):
    pass


def _action(
    act: Callable[[StaffContext, Case], dict[str, Any] | None], status: int = 200
) -> AioHandler:
    """A POST on a visible case, run in a savepoint so a refusal leaves nothing behind."""

    def handler(ctx: StaffContext) -> web.StreamResponse:
        case = _visible_case(ctx)
        if case is None:
            return json_error(404, NOT_FOUND)
        try:
            with ctx.session.begin_nested():
                result = act(ctx, case) or {}
        except _BadRequest as error:
            return json_error(400, str(error))
        except CaseworkError as error:
            return json_error(422, str(error))
        ctx.session.expire_all()
        fresh = ctx.case(case.id)
        payload: dict[str, Any] = {"ok": True, **result}
        payload["case"] = _case_summary(ctx, fresh) if fresh is not None else None
        return web.json_response(payload, status=status)

    return api_view(handler)


def _status(ctx: StaffContext, case: Case) -> None:
    raw = _text(ctx.body, "status", required=True)
    try:
        status = CaseStatus(raw)
    except ValueError:
        raise _BadRequest(
            "Trạng thái không hợp lệ; dùng một trong: " + ", ".join(s.value for s in CaseStatus)
        ) from None
    casework.change_status(
        ctx.session, case.id, status, actor=ctx.actor, note=_text(ctx.body, "note", required=False)
    )


def _assign(ctx: StaffContext, case: Case) -> None:
    staff_id = ctx.body.get("staff_id")
    if staff_id is not None and (isinstance(staff_id, bool) or not isinstance(staff_id, int)):
        raise _BadRequest("Trường «staff_id» phải là số nguyên hoặc null.")
    if staff_id is not None:
        target = ctx.session.get(Staff, staff_id)
        if target is None or target.unit_code not in ctx.visible:
            raise CaseworkError("Chỉ giao được cho cán bộ của đơn vị bạn phụ trách.")
    casework.assign(ctx.session, case.id, staff_id, actor=ctx.actor)


def _note(ctx: StaffContext, case: Case) -> dict[str, Any]:
    text = _text(ctx.body, "text", required=True) or ""
    return {"note_id": casework.add_note(ctx.session, case.id, text, actor=ctx.actor)}


def _reply(ctx: StaffContext, case: Case) -> dict[str, Any]:
    text = _text(ctx.body, "text", required=True) or ""
    return {"outbox_id": casework.reply_to_citizen(ctx.session, case.id, text, actor=ctx.actor)}


def _transfer(ctx: StaffContext, case: Case) -> None:
    unit_code = _text(ctx.body, "unit_code", required=True) or ""
    casework.transfer(
        ctx.session,
        case.id,
        unit_code,
        actor=ctx.actor,
        note=_text(ctx.body, "note", required=False),
    )


def _outcome(ctx: StaffContext, case: Case) -> dict[str, Any]:
    return {"outcome_id": record_outcome(
        ctx.session, case.id, action_text=_text(ctx.body, "action_text", required=True) or "",
        done_by=_text(ctx.body, "done_by", required=True) or "",
        done_on=_date(ctx.body, "done_on"),
        evidence_url=_text(ctx.body, "evidence_url", required=False), actor=ctx.actor)}


def _forward(ctx: StaffContext, case: Case) -> dict[str, Any]:
    row = forward_case(
        ctx.session, case.id, body_name=_text(ctx.body, "body_name", required=True) or "",
        method=_text(ctx.body, "method", required=True) or "",
        reference=_text(ctx.body, "reference", required=True) or "",
        forwarded_on=_date(ctx.body, "forwarded_on"), actor=ctx.actor)
    return {"forwarding_id": row.id, "answer_due_on": _day(row.answer_due_on),
            "due_basis": row.due_basis}


def _body_answer(ctx: StaffContext, case: Case) -> dict[str, Any]:
    forwarding_id = ctx.match_int("forwarding_id")
    row = ctx.session.get(CaseForwarding, forwarding_id) if forwarding_id is not None else None
    if row is None or row.case_id != case.id:
        raise CaseworkError("Không tìm thấy lần chuyển hồ sơ này.")
    return {"outbox_id": record_body_answer(
        ctx.session, row.id, text=_text(ctx.body, "text", required=True) or "",
        reference=_text(ctx.body, "reference", required=False),
        answered_on=_date(ctx.body, "answered_on"), actor=ctx.actor)}


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/cases", list_cases)
    app.router.add_get(r"/api/v1/cases/{case_id:\d+}", get_case)
    app.router.add_post(r"/api/v1/cases/{case_id:\d+}/status", _action(_status))
    app.router.add_post(r"/api/v1/cases/{case_id:\d+}/assign", _action(_assign))
    app.router.add_post(r"/api/v1/cases/{case_id:\d+}/notes", _action(_note, 201))
    app.router.add_post(r"/api/v1/cases/{case_id:\d+}/replies", _action(_reply, 201))
    app.router.add_post(r"/api/v1/cases/{case_id:\d+}/transfer", _action(_transfer))
    app.router.add_post(r"/api/v1/cases/{case_id:\d+}/outcome", _action(_outcome, 201))
    app.router.add_post(r"/api/v1/cases/{case_id:\d+}/forwardings", _action(_forward, 201))
    app.router.add_post(r"/api/v1/cases/{case_id:\d+}/forwardings/{forwarding_id:\d+}/answer",
                        _action(_body_answer, 201))
