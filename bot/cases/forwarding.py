"""Forwarding a case to the competent body and following it up (issue 17 item 3).

The Front does not decide a khiếu nại or a tố cáo: it forwards it to the body competent to
decide and follows it up (``front_role: forward_and_follow`` in ``content/legal_deadlines.yml``);
a phản ánh or kiến nghị outside its own remit goes the same way. An officer records which body,
the day, and how (a letter number or a portal reference); the case then waits for the body's
answer with its own clock, and the answer, once recorded, is passed to the citizen through the
staff-reply path (``citizen_reply`` outbox row → ``bot.delivery.citizens``).

When the body's answer is due (:func:`answer_due`) comes from the data file's steps of the
competent body, counted from the day of forwarding (taken as the day the body received it):

* the acceptance step (``accept``: Luật Khiếu nại Điều 27, 10 days; ``receive_and_check``: Luật
  Tố cáo Điều 24, no verified number) ends on its due day, or — when the data has no number — is
  taken to happen on the day of forwarding, and the due date is then marked an estimate
  (``law_est``);
* the decision or answer step (``decide``: Điều 28 / Điều 30; ``answer``: Quy chế kèm QĐ
  33/2017/QĐ-TTg Điều 12, as amended by QĐ 30/2020/QĐ-TTg, 60 days) counts from acceptance;
* a type whose data has no step of the body (phản ánh, kiến nghị) waits by the committee's
  policy, ``FOLLOW_UP_DAYS`` calendar days (``policy``): the file marks that interval a
  committee policy, not law.

Like :mod:`bot.cases.casework`, every function takes the caller's ``Session`` and never commits.
Errors staff can cause are :class:`~bot.cases.casework.CaseworkError` in Vietnamese. Event
details carry ids, dates and the basis only — never the body's text or the citizen's identity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cases.casework import (
    MAX_REPLY_CHARS,
    CaseworkError,
    add_event,
    clean_text,
    reply_to_citizen,
)
from bot.cases.legal_clocks import next_step, schedule
from bot.cases.legal_deadlines import LegalDeadlines, LegalDeadlinesError, load_deadlines
from bot.cases.service import Actor
from bot.cases.sla import WorkingCalendar, load_calendar
from bot.db.models import (
    TERMINAL_STATUSES,
    ActorKind,
    Case,
    CaseForwarding,
    CaseStatus,
)
from bot.db.types import ensure_aware, utcnow
from bot.knowledge.replies import reply_text

__all__ = [
    "FORWARDED",
    "BODY_ANSWERED",
    "METHODS",
    "AnswerDue",
    "NextDue",
    "answer_due",
    "case_forwardings",
    "forward_case",
    "local_today",
    "next_due",
    "next_dues",
    "StepTally",
    "tally_by_type",
    "record_body_answer",
]

FORWARDED = "forwarded"
BODY_ANSWERED = "body_answered"

#: How a case went to the body, as officers name it.
METHODS = {"letter": "Công văn", "portal": "Cổng tiếp nhận trực tuyến", "other": "Cách khác"}

#: The starting events of the data file that mean "the competent body received it".
BODY_RECEIPT_EVENTS = frozenset(
    {
        "complaint_received_by_competent_body",
        "denunciation_received_by_body",
        "petition_received_by_competent_body",
    }
)
#: The events that mean "the body accepted it" (thụ lý).
ACCEPTANCE_EVENTS = frozenset({"accepted", "acceptance_decision"})
#: Step ids (or their prefix) of the body's answer to the case.
FINAL_STEPS = ("decide", "answer")

MAX_BODY_CHARS = 255
MAX_REFERENCE_CHARS = 128
MAX_ANSWER_CHARS = 10_000


@dataclass(frozen=True)
class AnswerDue:
    """When the body's answer is due, and on what: ``law`` (the data's verified numbers),
    ``law_est`` (a step without a number taken as immediate), ``policy`` (FOLLOW_UP_DAYS)."""

    due_on: date | None
    basis: str | None
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class NextDue:
    """The next clocked thing a case waits for, for the queue and the Telegram card."""

    label: str
    due_on: date | None
    verified: bool
    forwarding_id: int | None = None
    step_id: str | None = None


def local_today(now: datetime | None = None, calendar: WorkingCalendar | None = None) -> date:
    calendar = calendar or load_calendar()
    moment = ensure_aware(now, "now") if now is not None else utcnow()
    return moment.astimezone(calendar.tz).date()


def _policy_days() -> int:
    from bot.settings import follow_up_days

    return follow_up_days()


def answer_due(
    case_type: str | None,
    forwarded_on: date,
    *,
    conditions: Iterable[str] = (),
    calendar: WorkingCalendar | None = None,
    deadlines: LegalDeadlines | None = None,
    policy_days: int | None = None,
) -> AnswerDue:
    """The day the body's answer is due for a ``case_type`` case forwarded on ``forwarded_on``
    (see the module docstring for the chain of steps)."""
    from datetime import timedelta

    calendar = calendar or load_calendar()
    policy = AnswerDue(forwarded_on + timedelta(days=policy_days or _policy_days()), "policy")
    if not case_type:
        return policy
    try:
        table = deadlines or load_deadlines()
        table.case_type(case_type)
    except (KeyError, LegalDeadlinesError, OSError):
        return policy
    events: dict[str, date] = dict.fromkeys(BODY_RECEIPT_EVENTS, forwarded_on)
    plan = schedule(case_type, events, calendar, conditions=conditions, deadlines=table)
    body = [s for s in plan if s.actor == "competent_body"]
    if not body:
        return policy
    estimated = False
    used: list[str] = []
    acceptance = next(
        (
            s
            for s in body
            if s.starts in BODY_RECEIPT_EVENTS and not s.step_id.startswith(FINAL_STEPS)
        ),
        None,
    )
    accepted_on = forwarded_on
    if acceptance is not None:
        used.append(acceptance.step_id)
        if acceptance.due_date is not None and acceptance.verified:
            accepted_on = acceptance.due_date
        else:
            estimated = True
    events.update(dict.fromkeys(ACCEPTANCE_EVENTS, accepted_on))
    plan = schedule(case_type, events, calendar, conditions=conditions, deadlines=table)
    final = next(
        (
            s
            for s in plan
            if s.actor == "competent_body"
            and s.step_id.startswith(FINAL_STEPS)
            and s.due_date is not None
        ),
        None,
    )
    if final is None:
        return policy
    used.append(final.step_id)
    if not final.verified:
        estimated = True
    return AnswerDue(final.due_date, "law_est" if estimated else "law", tuple(used))


def case_forwardings(session: Session, case_id: int) -> list[CaseForwarding]:
    return list(
        session.execute(
            select(CaseForwarding)
            .where(CaseForwarding.case_id == case_id)
            .order_by(CaseForwarding.id)
        ).scalars()
    )


def _clean(value: str | None, *, what: str, limit: int) -> str:
    """Casework's free-text check, worded for this form: an empty field asks "Cần ghi …"."""
    return clean_text(value, limit=limit, what=what.capitalize(), empty=f"Cần ghi {what}.")


def forward_case(
    session: Session,
    case_id: int,
    *,
    body_name: str,
    method: str,
    reference: str,
    forwarded_on: date,
    actor: Actor,
    now: datetime | None = None,
    tell_citizen: bool = True,
) -> CaseForwarding:
    """Record that case ``case_id`` went to ``body_name`` on ``forwarded_on`` (by ``method``,
    under ``reference``), set the clock of the body's answer, and tell the citizen where it went.
    """
    now = ensure_aware(now, "now") if now is not None else utcnow()
    body = _clean(body_name, what="tên cơ quan nhận", limit=MAX_BODY_CHARS)
    ref = _clean(reference, what="số công văn hoặc mã tiếp nhận", limit=MAX_REFERENCE_CHARS)
    if method not in METHODS:
        raise CaseworkError("Hãy chọn cách chuyển: công văn, cổng trực tuyến hoặc cách khác.")
    if forwarded_on > local_today(now):
        raise CaseworkError("Ngày chuyển không được sau hôm nay.")
    case = session.get(Case, case_id)
    if case is None:
        raise CaseworkError("Không tìm thấy hồ sơ.")
    if CaseStatus(case.status) in TERMINAL_STATUSES:
        raise CaseworkError("Hồ sơ đã kết thúc, không chuyển được nữa.")
    due = answer_due(case.legal_type, forwarded_on)
    row = CaseForwarding(
        case_id=case.id,
        body_name=body,
        method=method,
        reference=ref,
        forwarded_on=forwarded_on,
        forwarded_by=int(actor.id) if actor.kind == ActorKind.STAFF and actor.id else None,
        answer_due_on=due.due_on,
        due_basis=due.basis,
        created_at=now,
    )
    session.add(row)
    session.flush()
    case.updated_at = now
    add_event(
        session,
        case.id,
        actor,
        FORWARDED,
        {
            "forwarding_id": row.id,
            "method": method,
            "forwarded_on": forwarded_on.isoformat(),
            "answer_due_on": due.due_on.isoformat() if due.due_on else None,
            "basis": due.basis,
        },
        now,
    )
    if tell_citizen:
        reply_to_citizen(
            session,
            case.id,
            reply_text("case_forwarded_to_body", body=body, date=f"{forwarded_on:%d/%m/%Y}"),
            actor=actor,
            now=now,
        )
    session.flush()
    return row


def record_body_answer(
    session: Session,
    forwarding_id: int,
    *,
    text: str,
    reference: str | None,
    answered_on: date,
    actor: Actor,
    now: datetime | None = None,
) -> int:
    """Record the body's answer to a forwarding and pass it to the citizen in their channel;
    returns the outbox row id of the message to the citizen."""
    now = ensure_aware(now, "now") if now is not None else utcnow()
    row = session.get(CaseForwarding, forwarding_id)
    if row is None:
        raise CaseworkError("Không tìm thấy lần chuyển hồ sơ này.")
    if row.answered_on is not None:
        raise CaseworkError("Đã ghi nhận trả lời của cơ quan cho lần chuyển này.")
    answer = _clean(text, what="nội dung trả lời của cơ quan", limit=MAX_ANSWER_CHARS)
    ref = (reference or "").strip()[:MAX_REFERENCE_CHARS] or None
    if answered_on > local_today(now):
        raise CaseworkError("Ngày cơ quan trả lời không được sau hôm nay.")
    if answered_on < row.forwarded_on:
        raise CaseworkError("Ngày cơ quan trả lời không được trước ngày chuyển.")
    message = reply_text(
        "body_answer_relay",
        body=row.body_name,
        date=f"{answered_on:%d/%m/%Y}",
        reference=ref or "—",
        text=answer,
    )
    if len(message) > MAX_REPLY_CHARS:
        raise CaseworkError(
            f"Nội dung trả lời quá dài để gửi qua tin nhắn (tối đa khoảng "
            f"{MAX_REPLY_CHARS - len(message) + len(answer)} ký tự): hãy tóm tắt."
        )
    row.answer_text = answer
    row.answer_reference = ref
    row.answered_on = answered_on
    row.answer_recorded_by = int(actor.id) if actor.kind == ActorKind.STAFF and actor.id else None
    row.answer_recorded_at = now
    on_time = row.answer_due_on is None or answered_on <= row.answer_due_on
    add_event(
        session,
        row.case_id,
        actor,
        BODY_ANSWERED,
        {
            "forwarding_id": row.id,
            "answered_on": answered_on.isoformat(),
            "on_time": on_time,
        },
        now,
    )
    outbox_id = reply_to_citizen(session, row.case_id, message, actor=actor, now=now)
    session.flush()
    return outbox_id


#: The officer's words for the steps of ``content/legal_deadlines.yml`` (first word of the id).
STEP_LABELS = {
    "acknowledge": "Báo người dân đã nhận",
    "forward": "Chuyển cơ quan có thẩm quyền",
    "answer": "Trả lời người dân",
    "follow": "Theo dõi kết quả",
    "accept": "Cơ quan có thẩm quyền thụ lý",
    "receive": "Tiếp nhận, kiểm tra thông tin tố cáo",
    "notify": "Thông báo thụ lý tố cáo",
    "decide": "Ra quyết định giải quyết",
    "compile": "Tổng hợp kiến nghị cử tri",
}


def step_label(step_id: str) -> str:
    return STEP_LABELS.get(step_id) or STEP_LABELS.get(step_id.split("_")[0], step_id)


def next_due(
    case: Case,
    forwardings: list[CaseForwarding],
    calendar: WorkingCalendar | None = None,
) -> NextDue | None:
    """What ``case`` waits for next: the oldest unanswered forwarding's answer, else the next
    step of its legal type not yet done (``forward`` is done once forwarded). None when there is
    nothing clocked to show."""
    waiting = [f for f in forwardings if f.answered_on is None]
    if waiting:
        first = waiting[0]
        return NextDue(
            f"Chờ {first.body_name} trả lời",
            first.answer_due_on,
            first.due_basis == "law",
            first.id,
        )
    if not case.legal_type:
        return None
    done = {"forward"} if forwardings else set()
    if CaseStatus(case.status) != CaseStatus.NEW:
        done.add("acknowledge")
    try:
        step = next_step(case.legal_type, case.created_at, done, calendar, audience="staff")
    except (LegalDeadlinesError, KeyError, ValueError, OSError):
        return None
    if step is None or step.actor != "front":
        return None
    return NextDue(step_label(step.step_id), step.due_date, step.verified, step_id=step.step_id)


def next_dues(
    session: Session, cases: Iterable[Case], calendar: WorkingCalendar | None = None
) -> dict[int, NextDue]:
    """:func:`next_due` for many cases with one query (the queue, the CSV export)."""
    listed = list(cases)
    if not listed:
        return {}
    by_case: dict[int, list[CaseForwarding]] = {}
    for row in session.execute(
        select(CaseForwarding)
        .where(CaseForwarding.case_id.in_([c.id for c in listed]))
        .order_by(CaseForwarding.id)
    ).scalars():
        by_case.setdefault(row.case_id, []).append(row)
    calendar = calendar or load_calendar()
    found = {}
    for case in listed:
        due = next_due(case, by_case.get(case.id, []), calendar)
        if due is not None:
            found[case.id] = due
    return found


@dataclass
class StepTally:
    """Forwarded steps of one legal type: the body's answers on time, late, and still waiting."""

    on_time: int = 0
    late: int = 0
    waiting: int = 0
    waiting_late: int = 0
    no_clock: int = 0

    @property
    def answered(self) -> int:
        return self.on_time + self.late


def tally_by_type(
    session: Session, unit_codes: Iterable[str], *, today: date | None = None
) -> dict[str | None, StepTally]:
    """Per legal type (None: not yet known), how the bodies' answers kept their clocks: the
    overview's "steps done on time by type". Counts forwardings of cases of ``unit_codes``."""
    today = today or local_today()
    tallies: dict[str | None, StepTally] = {}
    rows = session.execute(
        select(Case.legal_type, CaseForwarding.answer_due_on, CaseForwarding.answered_on)
        .join(Case, Case.id == CaseForwarding.case_id)
        .where(Case.unit_code.in_(sorted(set(unit_codes))))
    ).all()
    for legal_type, due_on, answered_on in rows:
        tally = tallies.setdefault(legal_type, StepTally())
        if due_on is None:
            tally.no_clock += 1
        elif answered_on is not None:
            if answered_on <= due_on:
                tally.on_time += 1
            else:
                tally.late += 1
        elif today > due_on:
            tally.waiting_late += 1
        else:
            tally.waiting += 1
    return tallies
