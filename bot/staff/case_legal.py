"""The case page's legal panels (issue 17): forwarding to a competent body and its answer, and
the outcome recorded before a case may be closed. The POSTs they submit are handled in
:mod:`bot.staff.case_actions`; the rules live in :mod:`bot.cases.forwarding` and
:mod:`bot.cases.outcome`.

Nothing here shows the citizen's name, phone or channel id: a forwarding names the body and the
letter, an outcome names who acted — so a tố cáo's panels show no more than any other case's.
"""

from __future__ import annotations

from datetime import date

from bot.cases.forwarding import METHODS, case_forwardings, local_today
from bot.cases.outcome import case_outcomes
from bot.db.models import TERMINAL_STATUSES, Case, CaseAttachment, CaseForwarding, CaseStatus
from bot.staff import html as h
from bot.staff.context import StaffContext

__all__ = ["BASIS_LABELS", "due_text", "panels", "parse_day"]

BASIS_LABELS = {
    "law": "theo luật",
    "law_est": "theo luật, ước tính (văn bản không nêu số ngày cho một bước)",
    "policy": "theo quy định của ủy ban (luật không nêu thời hạn)",
}


def parse_day(raw: str, what: str) -> date:
    """A ``YYYY-MM-DD`` field (the browser's date input), or a Vietnamese error."""
    from bot.cases.casework import CaseworkError

    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        raise CaseworkError(f"Hãy chọn {what}.") from None


def due_text(due_on: date | None, today: date, *, answered: bool = False) -> str:
    if due_on is None:
        return "không có thời hạn trong văn bản"
    text = f"{due_on:%d/%m/%Y}"
    if answered:
        return text
    if today > due_on:
        return f"{text} — ĐÃ QUÁ HẠN {(today - due_on).days} ngày"
    return f"{text} — còn {(due_on - today).days} ngày"


def _forwarding_item(
    ctx: StaffContext, row: CaseForwarding, today: date, csrf: h.Markup, open_case: bool
) -> h.Markup:
    facts = h.fmt(
        "<b>{body}</b> · {method} số/mã <code>{ref}</code> · ngày chuyển {on}<br>"
        'Hạn cơ quan trả lời: <span class="forward-due">{due}</span> '
        '<span class="muted">({basis})</span>',
        body=row.body_name,
        method=METHODS.get(row.method, row.method),
        ref=row.reference,
        on=f"{row.forwarded_on:%d/%m/%Y}",
        due=due_text(row.answer_due_on, today, answered=row.answered_on is not None),
        basis=BASIS_LABELS.get(row.due_basis or "", "—"),
    )
    if row.answered_on is not None:
        on_time = row.answer_due_on is None or row.answered_on <= row.answer_due_on
        answer = h.fmt(
            '<p class="body-answer">Cơ quan trả lời ngày {on} (số {ref}){late}:</p>'
            '<div class="content">{text}</div>',
            on=f"{row.answered_on:%d/%m/%Y}",
            ref=row.answer_reference or "—",
            late="" if on_time else " — trễ hạn",
            text=row.answer_text or "",
        )
    elif open_case:
        answer = h.fmt(
            '<form method="post" action="/staff/cases/{case}/forwardings/{id}/answer">{csrf}'
            '<p><label for="answer-text-{id}">Nội dung cơ quan trả lời</label> '
            '<span class="muted">(được gửi cho người dân qua kênh của họ)</span>'
            '<textarea id="answer-text-{id}" name="text" maxlength="10000" required></textarea></p>'
            '<p><label for="answer-ref-{id}">Số văn bản trả lời</label> '
            '<input id="answer-ref-{id}" name="reference" maxlength="128"></p>'
            '<p><label for="answer-date-{id}">Ngày trả lời</label> '
            '<input type="date" id="answer-date-{id}" name="answered_on" value="{today}" '
            'required></p><button type="submit">Ghi nhận trả lời của cơ quan</button></form>',
            case=row.case_id,
            id=row.id,
            csrf=csrf,
            today=today.isoformat(),
        )
    else:
        answer = h.fmt('<p class="muted">Chưa có trả lời.</p>')
    return h.fmt('<li class="forwarding">{facts}{answer}</li>', facts=facts, answer=answer)


def _forward_form(case: Case, csrf: h.Markup, today: date) -> h.Markup:
    return h.fmt(
        '<form method="post" action="/staff/cases/{id}/forward">{csrf}'
        '<p><label for="forward-body">Cơ quan nhận</label> '
        '<input id="forward-body" name="body_name" maxlength="255" required></p>'
        '<p><label for="forward-method">Cách chuyển</label> '
        '<select id="forward-method" name="method">{methods}</select></p>'
        '<p><label for="forward-ref">Số công văn / mã tiếp nhận</label> '
        '<input id="forward-ref" name="reference" maxlength="128" required></p>'
        '<p><label for="forward-date">Ngày chuyển</label> '
        '<input type="date" id="forward-date" name="forwarded_on" value="{today}" required></p>'
        '<button type="submit">Ghi nhận chuyển hồ sơ</button></form>',
        id=case.id,
        csrf=csrf,
        today=today.isoformat(),
        methods=h.options(list(METHODS.items()), "letter"),
    )


def _outcome_form(case: Case, csrf: h.Markup, today: date) -> h.Markup:
    return h.fmt(
        '<form method="post" action="/staff/cases/{id}/outcome">{csrf}'
        '<p><label for="outcome-what">Đã làm gì</label>'
        '<textarea id="outcome-what" name="action_text" maxlength="10000" required></textarea></p>'
        '<p><label for="outcome-who">Ai thực hiện</label> '
        '<input id="outcome-who" name="done_by" maxlength="255" required></p>'
        '<p><label for="outcome-date">Ngày thực hiện</label> '
        '<input type="date" id="outcome-date" name="done_on" value="{today}" required></p>'
        '<p><label for="outcome-evidence">Minh chứng (đường dẫn, không bắt buộc)</label> '
        '<input id="outcome-evidence" name="evidence_url" maxlength="2000"></p>'
        '<button type="submit">Ghi nhận kết quả</button></form>',
        id=case.id,
        csrf=csrf,
        today=today.isoformat(),
    )


def panels(ctx: StaffContext, case: Case) -> h.Markup:
    """The two cards: "Chuyển cơ quan có thẩm quyền" and "Kết quả xử lý"."""
    csrf = h.hidden_csrf(ctx.csrf)
    today = local_today(ctx.now)
    open_case = CaseStatus(case.status) not in TERMINAL_STATUSES
    forwardings = case_forwardings(ctx.session, case.id)
    items = [_forwarding_item(ctx, row, today, csrf, open_case) for row in forwardings]
    listed = (
        h.fmt('<ul id="forwardings">{items}</ul>', items=h.join(items))
        if items
        else h.fmt('<p class="muted">Chưa chuyển cơ quan nào.</p>')
    )
    forward = _forward_form(case, csrf, today) if open_case else h.Markup("")
    outcomes = case_outcomes(ctx.session, case.id)
    evidence = {a.id: a for a in case.attachments}
    names = {}
    if outcomes:
        from bot.staff import queries

        names = queries.staff_names(ctx.session, (o.recorded_by for o in outcomes))
    done = [
        h.fmt(
            '<li class="outcome">{on} · <b>{who}</b>: {what}{evidence}'
            '<span class="muted"> (ghi nhận bởi {by})</span></li>',
            on=f"{o.done_on:%d/%m/%Y}",
            who=o.done_by,
            what=o.action_text,
            by=names.get(o.recorded_by, "—") if o.recorded_by else "—",
            evidence=_evidence(evidence.get(o.evidence_id)),
        )
        for o in outcomes
    ]
    done_list = (
        h.fmt('<ul id="outcomes">{items}</ul>', items=h.join(done))
        if done
        else h.fmt(
            '<p class="muted" id="no-outcome">Chưa ghi nhận kết quả: hồ sơ chưa '
            "thể chuyển sang «Đã giải quyết» hoặc «Đã đóng».</p>"
        )
    )
    outcome = _outcome_form(case, csrf, today) if open_case else h.Markup("")
    return h.fmt(
        '<div class="grid"><div class="card"><h2>Chuyển cơ quan có thẩm quyền</h2>{listed}'
        "{forward}</div>"
        '<div class="card"><h2>Kết quả xử lý</h2>{done}{outcome}</div></div>',
        listed=listed,
        forward=forward,
        done=done_list,
        outcome=outcome,
    )


def _evidence(attachment: CaseAttachment | None) -> h.Markup:
    if attachment is None or not attachment.url:
        return h.Markup("")
    return h.fmt(
        ' · <a href="{url}" rel="noopener noreferrer" target="_blank">minh chứng</a>',
        url=attachment.url,
    )
