"""The quarantine page: messages moderation stopped, for a person to restore or confirm.

Every signed-in officer sees the list (quarantined messages carry no unit: nothing in spam says
where it belongs) and can restore a message as a petition of their own unit, which tells the
citizen its reference code; or confirm it as spam. ``/staff/quarantine.tsv`` exports the
decisions as labelled lines for the moderation evaluation.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot.moderation import quarantine_review
from bot.staff import html as h
from bot.staff.context import StaffContext, console_view, html_response, not_found_page
from bot.staff.views import nav


def _page(ctx: StaffContext, *, message: str | None = None, error: str | None = None,
          status: int = 200) -> web.Response:
    csrf = h.hidden_csrf(ctx.csrf)
    labels = {"gambling": "Cờ bạc, cá cược", "scam_link": "Lừa đảo, link giả mạo",
              "loan_spam": "Cho vay", "earn_money_spam": "Kiếm tiền, đầu tư",
              "account_trade": "Mua bán tài khoản, sim", "ad_spam": "Quảng cáo",
              "abuse": "Ngôn từ", "rate_limited": "Gửi liên tục"}
    rows = [
        h.fmt(
            '<tr id="q-{id}"><td>{when}</td><td>{channel}</td><td>{kind}</td>'
            '<td class="content">{text}</td><td class="muted">{reason}</td><td>'
            '<form method="post" action="/staff/quarantine/{id}/restore">{csrf}'
            '<button type="submit">Khôi phục thành hồ sơ</button></form> '
            '<form method="post" action="/staff/quarantine/{id}/spam">{csrf}'
            '<button type="submit" class="secondary">Xác nhận tin rác</button></form></td></tr>',
            id=row.id,
            when=h.local_time(row.created_at, ctx.tz),
            channel=h.CHANNEL_LABELS.get(row.channel, row.channel),
            kind=labels.get(str(row.category), row.category or "—"),
            text=row.text,
            reason=row.reason,
            csrf=csrf,
        )
        for row in quarantine_review.unreviewed(ctx.session)
    ]
    table = (h.fmt(
        "<table><thead><tr><th>Thời gian</th><th>Kênh</th><th>Loại</th><th>Nội dung</th>"
        "<th>Lý do</th><th>Thao tác</th></tr></thead><tbody>{rows}</tbody></table>",
        rows=h.join(rows)) if rows else h.fmt('<p class="muted">Không có tin nào chờ xem lại.</p>'))
    body = h.fmt(
        "<h1>Tin bị chặn chờ xem lại</h1>"
        '<p class="muted">Bộ lọc chặn quảng cáo, lừa đảo trước khi thành hồ sơ. Nếu một tin là '
        "phản ánh thật, hãy khôi phục: hồ sơ thuộc đơn vị của bạn (chuyển đơn vị nếu cần) và "
        "người dân được báo mã hồ sơ qua kênh họ đã nhắn. "
        '<a href="/staff/quarantine.tsv">Tải các quyết định (TSV)</a></p>{table}',
        table=table,
    )
    flash = h.flash_box(error, error=True) if error else h.flash_box(message)
    return html_response(h.page("Tin bị chặn", body, nav=nav(ctx), flash=flash), status)


@console_view()
def quarantine_page(ctx: StaffContext) -> web.StreamResponse:
    return _page(ctx)


def _review(ctx: StaffContext, decide: Callable[[int], str]) -> web.StreamResponse:
    """Claim the message in the path and record a decision on it: ``decide`` runs in a
    savepoint and returns what the page then says. An unknown message is a 404; one another
    officer reviewed first is a 409 with the list as it now stands."""
    qid = ctx.match_int("quarantine_id")
    if qid is None:
        return not_found_page()
    try:
        with ctx.session.begin_nested():
            message = decide(qid)
    except LookupError:
        return not_found_page()
    except quarantine_review.AlreadyReviewed:
        return _page(ctx, error="Tin này đã được xem lại trước đó.", status=409)
    return _page(ctx, message=message)


@console_view()
def quarantine_restore(ctx: StaffContext) -> web.StreamResponse:
    def restore(qid: int) -> str:
        from bot.db.models import Quarantine

        row = ctx.session.get(Quarantine, qid)
        when = h.local_time(row.created_at, ctx.tz) if row is not None else ""
        restored = quarantine_review.restore(
            ctx.session, qid, staff_id=int(ctx.staff.id),
            unit_code=str(ctx.staff.unit_code), when_label=str(when), now=ctx.now)
        return f"Đã khôi phục thành hồ sơ {restored.ref_code} và báo mã cho người dân."

    return _review(ctx, restore)


@console_view()
def quarantine_spam(ctx: StaffContext) -> web.StreamResponse:
    def confirm(qid: int) -> str:
        quarantine_review.confirm_spam(ctx.session, qid, staff_id=int(ctx.staff.id), now=ctx.now)
        return "Đã xác nhận là tin rác."

    return _review(ctx, confirm)


@console_view()
def quarantine_tsv(ctx: StaffContext) -> web.StreamResponse:
    body = "label\tkind\ttext\n" + "".join(
        f"{line}\n" for line in quarantine_review.labelled_lines(ctx.session))
    return web.Response(text=body, content_type="text/tab-separated-values", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="quarantine.tsv"'})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/staff/quarantine", quarantine_page)
    app.router.add_get("/staff/quarantine.tsv", quarantine_tsv)
    app.router.add_post(r"/staff/quarantine/{quarantine_id:\d+}/restore", quarantine_restore)
    app.router.add_post(r"/staff/quarantine/{quarantine_id:\d+}/spam", quarantine_spam)
