"""The staff side on Telegram (python-telegram-bot v22, used as a plain async Bot API client).

:class:`TelegramService` does three things with one ``telegram.Bot``:

* **posts** case messages to a unit's group — it is the outbox :class:`~bot.delivery.senders.Sender`
  for ``staff_notify``, ``overdue`` and ``citizen_message`` rows — with the buttons *Nhận xử lý*,
  *Đã giải quyết*, *Chuyển đơn vị* and *Xem* (a link to the console), and remembers which message
  belongs to which case;
* **handles updates**: a button press acts on the case through ``bot.cases.casework`` and edits the
  message to show who did what; a reply to a case message becomes a ``citizen_reply`` through
  ``casework.reply_to_citizen``; ``/lienket <mã>`` links the group to a unit and ``/canbo <mã>``
  links the sender's Telegram account to their staff account (``bot.notify.links``). Only a
  linked, active staff member who can see the case (``casework.case_for_staff``) may act; anyone
  else is told "Bạn không có quyền…" and nothing changes;
* **receives** updates through :func:`bot.notify.web.telegram_routes` (an aiohttp webhook that
  checks ``X-Telegram-Bot-Api-Secret-Token`` in constant time) or :meth:`TelegramService.poll`
  (long polling, for development).

A unit with no linked group has its notifications posted to the nearest unit above it that has
one, with a line saying so; with none anywhere the row waits in the outbox.

Database work runs in a thread (``asyncio.to_thread``), one ``session_scope`` per unit of work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from telegram import (
    Bot,
    CallbackQuery,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot.cases import casework
from bot.cases.inbound import record_seen_message
from bot.cases.service import Actor
from bot.db.engine import session_scope
from bot.db.models import Case, CaseStatus, Staff, TelegramMessage, Unit
from bot.db.types import utcnow
from bot.delivery.senders import (
    STAFF_KINDS,
    DeliveryResult,
    OutboxKind,
    OutboxRow,
)
from bot.knowledge.units import UnitTree
from bot.notify import links
from bot.notify.messages import (
    BACK,
    KIND_LABELS,
    RESOLVE,
    TAKE,
    TRANSFER,
    TRANSFER_TO,
    CaseCard,
    case_keyboard,
    decode_callback,
    headline,
    load_card,
    render_case,
    staff_label,
    transfer_keyboard,
    unit_from_token,
)
from bot.settings import NotifyConfig

__all__ = ["TelegramService", "make_bot"]

log = logging.getLogger(__name__)

NO_PERMISSION = (
    "Bạn không có quyền xử lý hồ sơ này. Cán bộ của đơn vị cần liên kết tài khoản Telegram "
    "bằng lệnh /canbo <mã> (xin mã cá nhân từ quản trị viên)."
)
HELP_TEXT = (
    "Trợ lý tiếp nhận phản ánh của Ủy ban MTTQ.\n"
    "• /lienket <mã> — liên kết nhóm này với đơn vị (mã do quản trị viên đơn vị cấp).\n"
    "• /canbo <mã> — liên kết tài khoản Telegram của bạn với tài khoản cán bộ.\n"
    "• Bấm nút dưới mỗi hồ sơ để nhận xử lý, báo đã giải quyết hoặc chuyển đơn vị.\n"
    "• Trả lời (reply) tin nhắn hồ sơ để gửi phản hồi tới người dân."
)

T = TypeVar("T")


def make_bot(config: NotifyConfig) -> Bot | None:
    """A Bot for ``config`` (None when no token is configured). Call ``initialize`` before use."""
    if not config.telegram_enabled:
        return None
    request = HTTPXRequest(
        connection_pool_size=8,
        connect_timeout=10.0,
        read_timeout=20.0,
        write_timeout=20.0,
        pool_timeout=5.0,
    )
    return Bot(config.telegram_bot_token, base_url=config.telegram_api_base, request=request)


def _default_tree() -> UnitTree:
    from bot.knowledge.content import unit_tree

    return unit_tree()


def _default_tz() -> ZoneInfo:
    from bot.settings import get_settings

    return ZoneInfo(get_settings().timezone)


@dataclass(frozen=True)
class _Target:
    """Where a staff notification goes."""

    chat_id: int
    unit_name: str
    via_unit_name: str | None  # set when posted to an ancestor because the unit has no group


@dataclass(frozen=True)
class _Outcome:
    """What a button press did: the answer to show, and how to edit the message."""

    answer: str
    alert: bool = False
    card: CaseCard | None = None
    keyboard: str | None = None  # "case", "units", "readonly" or None (no edit)
    action_line: str | None = None


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TelegramService:
    """The bot of the staff side. Create with a started ``Bot`` or call :meth:`start`."""

    def __init__(
        self,
        bot: Bot,
        engine: Engine,
        *,
        config: NotifyConfig | None = None,
        tree: UnitTree | Callable[[], UnitTree] | None = None,
        tz: ZoneInfo | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.bot = bot
        self.engine = engine
        self.config = config or NotifyConfig()
        if tree is None:
            self._tree: Callable[[], UnitTree] = _default_tree
        elif isinstance(tree, UnitTree):
            fixed = tree
            self._tree = lambda: fixed
        else:
            self._tree = tree
        self.tz = tz or _default_tz()
        self.clock = clock
        #: Telegram refuses URL buttons it considers invalid (e.g. a console on 127.0.0.1): after
        #: the first refusal "Xem" becomes a link in the text for the rest of the process.
        self._url_buttons = True

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the HTTP client and check the token (``getMe``)."""
        await self.bot.initialize()

    async def stop(self) -> None:
        await self.bot.shutdown()

    @property
    def tree(self) -> UnitTree:
        return self._tree()

    async def _db(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one committed unit of work, in a worker thread."""

        def run() -> T:
            with session_scope(self.engine) as session:
                return work(session)

        return await asyncio.to_thread(run)

    def _local(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%H:%M %d/%m")

    # ------------------------------------------------------------------ posting (outbox sender)

    def _target(self, session: Session, unit_code: str) -> _Target | None:
        unit = session.get(Unit, unit_code)
        if unit is None:
            return None
        name = unit.short_name or unit.name
        current: Unit | None = unit
        seen: set[str] = set()
        while current is not None and current.code not in seen:
            seen.add(current.code)
            if current.telegram_chat_id is not None:
                via = None if current.code == unit.code else (current.short_name or current.name)
                return _Target(int(current.telegram_chat_id), name, via)
            current = session.get(Unit, current.parent_code) if current.parent_code else None
        return None

    async def send(self, row: OutboxRow) -> DeliveryResult:
        """Post a staff notification (the outbox worker calls this for :data:`STAFF_KINDS`)."""
        if row.kind not in STAFF_KINDS:
            return DeliveryResult.fail(f"TelegramService does not deliver {row.kind!r} rows")
        if row.case_id is None:
            return DeliveryResult.fail("staff notification without a case")
        case_id = int(row.case_id)

        def prepare(session: Session) -> tuple[CaseCard, _Target | None, str | None] | None:
            card = load_card(session, case_id)
            if card is None:
                return None
            unit_code = row.target or card.unit_code
            from_unit = row.payload.get("from_unit_code")
            from_name = None
            if isinstance(from_unit, str):
                unit = session.get(Unit, from_unit)
                from_name = (unit.short_name or unit.name) if unit is not None else from_unit
            return card, self._target(session, unit_code), from_name

        prepared = await self._db(prepare)
        if prepared is None:
            return DeliveryResult.fail(f"case {case_id} not found")
        card, target, from_name = prepared
        if target is None:
            return DeliveryResult.later(
                f"unit {row.target or card.unit_code!r} and the units above it have no linked "
                "Telegram group (/lienket)"
            )
        extra = []
        if target.via_unit_name:
            extra.append(
                f"⚠️ {target.unit_name} chưa liên kết nhóm Telegram; tin được gửi tới "
                f"{target.via_unit_name}."
            )
        if from_name:
            extra.append(f"Chuyển từ: {from_name}")
        if row.kind == OutboxKind.OVERDUE and card.sla_due_at is not None:
            extra.append(f"Đã quá hạn từ {self._local(card.sla_due_at)}.")
        quote = row.payload.get("text") if row.kind == OutboxKind.CITIZEN_MESSAGE else None
        url = self.config.case_url(card.id)

        async def post(url_button: bool) -> Message:
            return await self.bot.send_message(
                target.chat_id,
                render_case(
                    card,
                    title=headline(row.kind, row.payload, card),
                    tz=self.tz,
                    extra=extra,
                    quote=str(quote) if quote else None,
                    link=None if url_button else url,
                ),
                parse_mode=ParseMode.HTML,
                reply_markup=case_keyboard(
                    card, url if url_button else None, actionable=card.unit_code == row.target
                ),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )

        try:
            message = await self._url_fallback(post)
        except ChatMigrated as exc:
            new_id = int(exc.new_chat_id)
            await self._db(lambda s: links.migrate_chat(s, target.chat_id, new_id))
            return DeliveryResult.retry(f"group moved to {new_id}", after=0)
        except RetryAfter as exc:
            return DeliveryResult.retry(f"Telegram flood control: {exc}", after=_seconds(exc))
        except InvalidToken as exc:
            return DeliveryResult.later(f"Telegram rejects the bot token: {exc}", after=600)
        except Forbidden as exc:
            # Bot removed from the group: retried (admins may add it back), then failed.
            return DeliveryResult.retry(f"bot cannot post to the group: {exc}")
        except BadRequest as exc:
            return DeliveryResult.fail(f"Telegram refused the message: {exc}")
        except TelegramError as exc:  # NetworkError, TimedOut, 5xx
            return DeliveryResult.retry(f"{type(exc).__name__}: {exc}")

        def remember(session: Session) -> None:
            session.add(
                TelegramMessage(
                    chat_id=message.chat.id,
                    message_id=message.message_id,
                    case_id=card.id,
                    outbox_id=row.id,
                    created_at=utcnow(),
                )
            )

        try:
            await self._db(remember)
        except Exception:  # the message is out; losing the reply link must not resend it
            log.exception(
                "could not record Telegram message %s for case %s", message.message_id, card.id
            )
        return DeliveryResult.sent()

    # ------------------------------------------------------------------ updates

    async def process_update(self, update: Update) -> None:
        """Handle one update; a redelivered ``update_id`` is ignored."""
        first_time = await self._db(
            lambda s: record_seen_message(s, "telegram", str(update.update_id))
        )
        if not first_time:
            return
        if update.callback_query is not None:
            await self._on_callback(update.callback_query)
        elif update.message is not None:
            await self._on_message(update.message)

    async def process_json(self, data: Mapping[str, Any]) -> None:
        update = Update.de_json(dict(data), self.bot)
        await self.process_update(update)

    # -- buttons

    async def _on_callback(self, query: CallbackQuery) -> None:
        data = decode_callback(query.data)
        if data is None:
            await self._answer(query, "Nút này không còn dùng được.", alert=True)
            return
        user_id = query.from_user.id
        try:
            outcome = await self._db(
                lambda s: self._act(s, user_id, data.case_id, data.action, data.unit_token)
            )
        except _Refused as refused:
            await self._answer(query, refused.message, alert=True)
            return
        message = query.message
        if outcome.card is not None and message is not None and outcome.keyboard is not None:
            card = outcome.card
            url = self.config.case_url(card.id)
            chat_id, message_id = message.chat.id, message.message_id

            async def edit(url_button: bool) -> Any:
                view = url if url_button else None
                if outcome.keyboard == "units":
                    return await self.bot.edit_message_reply_markup(
                        chat_id=chat_id,
                        message_id=message_id,
                        reply_markup=transfer_keyboard(card, self.tree),
                    )
                if outcome.keyboard == "case" and outcome.action_line is None:
                    return await self.bot.edit_message_reply_markup(
                        chat_id=chat_id,
                        message_id=message_id,
                        reply_markup=case_keyboard(card, view),
                    )
                return await self.bot.edit_message_text(
                    render_case(
                        card,
                        title=KIND_LABELS[card.kind],
                        tz=self.tz,
                        action_line=outcome.action_line,
                        link=None if url_button else url,
                    ),
                    chat_id=chat_id,
                    message_id=message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=case_keyboard(card, view, actionable=outcome.keyboard == "case"),
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )

            try:
                await self._url_fallback(edit)
            except TelegramError as exc:  # the action stands; only the message is stale
                log.warning("could not edit message %s: %s", message.message_id, exc)
        await self._answer(query, outcome.answer, alert=outcome.alert)

    async def _url_fallback(self, call: Callable[[bool], Awaitable[T]]) -> T:
        """Run ``call(url_button)``; when Telegram refuses the "Xem" URL, again without it."""
        if not self._url_buttons:
            return await call(False)
        try:
            return await call(True)
        except BadRequest as exc:
            if "url" not in str(exc).lower():
                raise
            self._url_buttons = False
            log.warning(
                "Telegram refuses the console URL %r as a button (%s); set STAFF_PUBLIC_URL to "
                "the console's public https address. Writing the link into messages instead.",
                self.config.staff_public_url,
                exc,
            )
            return await call(False)

    async def _answer(self, query: CallbackQuery, text: str, *, alert: bool = False) -> None:
        try:
            await self.bot.answer_callback_query(query.id, text=text[:200], show_alert=alert)
        except TelegramError as exc:
            log.warning("could not answer callback %s: %s", query.id, exc)

    def _staff_for(self, session: Session, telegram_user_id: int, case_id: int) -> Staff:
        staff = links.linked_staff(session, telegram_user_id)
        if staff is None:
            raise _Refused(NO_PERMISSION)
        if casework.case_for_staff(session, case_id, staff, self.tree) is None:
            raise _Refused(NO_PERMISSION)
        return staff

    def _act(
        self,
        session: Session,
        telegram_user_id: int,
        case_id: int,
        action: str,
        unit_token: str | None,
    ) -> _Outcome:
        staff = self._staff_for(session, telegram_user_id, case_id)
        actor = Actor.staff(staff.id)
        name = staff_label(staff)
        when = self._local(self.clock())
        try:
            if action == TRANSFER:
                card = load_card(session, case_id)
                return _Outcome("Chọn đơn vị nhận hồ sơ.", card=card, keyboard="units")
            if action == BACK:
                card = load_card(session, case_id)
                return _Outcome("Đã quay lại.", card=card, keyboard="case")
            if action == TAKE:
                line = self._take(session, case_id, staff, actor, name, when)
                answer = "Bạn đã nhận xử lý hồ sơ."
                keyboard = "case"
            elif action == RESOLVE:
                casework.change_status(session, case_id, CaseStatus.RESOLVED, actor=actor)
                line = f"{name} đã đánh dấu «Đã giải quyết» lúc {when}"
                answer = "Đã cập nhật: đã giải quyết."
                keyboard = "case"
            elif action == TRANSFER_TO and unit_token:
                unit_code = unit_from_token(unit_token, self.tree)
                if unit_code is None:
                    raise casework.CaseworkError("Không tìm thấy đơn vị nhận hồ sơ.")
                casework.transfer(session, case_id, unit_code, actor=actor, note=None)
                unit_name = self.tree[unit_code].short_name
                line = f"{name} đã chuyển hồ sơ đến {unit_name} lúc {when}"
                answer = f"Đã chuyển hồ sơ đến {unit_name}."
                keyboard = "readonly"
            else:
                raise casework.CaseworkError("Thao tác không hợp lệ.")
        except casework.CaseworkError as exc:
            session.rollback()
            raise _Refused(str(exc)) from exc
        session.flush()
        return _Outcome(
            answer, card=load_card(session, case_id), keyboard=keyboard, action_line=line
        )

    def _take(
        self, session: Session, case_id: int, staff: Staff, actor: Actor, name: str, when: str
    ) -> str:
        # Lock the case first (PostgreSQL; SQLite's write lock already serialises), so of two
        # officers pressing at once the second sees the first as the assignee.
        case = session.execute(
            select(Case)
            .where(Case.id == case_id)
            .with_for_update(of=Case)
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        card = load_card(session, case_id)
        if case is None or card is None:
            raise casework.CaseworkError("Không tìm thấy hồ sơ.")
        if card.terminal:
            raise casework.CaseworkError("Hồ sơ đã xử lý xong.")
        current = session.get(Staff, case.assignee_id) if case.assignee_id is not None else None
        if current is not None and current.id != staff.id:
            raise casework.CaseworkError(f"Hồ sơ đang do {staff_label(current)} xử lý.")
        changed = False
        if current is None:
            casework.assign(session, case_id, staff.id, actor=actor)
            changed = True
        if card.status in (CaseStatus.NEW, CaseStatus.ACKNOWLEDGED):
            casework.change_status(session, case_id, CaseStatus.IN_PROGRESS, actor=actor)
            changed = True
        if not changed:
            raise casework.CaseworkError("Bạn đã nhận xử lý hồ sơ này rồi.")
        return f"{name} đã nhận xử lý lúc {when}"

    # -- messages: commands and replies

    async def _on_message(self, message: Message) -> None:
        if message.migrate_to_chat_id:
            old, new = message.chat.id, int(message.migrate_to_chat_id)
            await self._db(lambda s: links.migrate_chat(s, old, new))
            return
        if message.from_user is None or message.from_user.is_bot:
            return
        command, argument = self._command(message.text or "")
        if command == "lienket":
            await self._link_group(message, argument)
        elif command == "canbo":
            await self._link_member(message, argument)
        elif command in ("start", "trogiup", "help"):
            await self._reply(message, HELP_TEXT)
        elif command is None and message.reply_to_message is not None:
            await self._staff_reply(message)

    def _command(self, text: str) -> tuple[str | None, str]:
        """``/lienket@MyBot ABCD-EFGH`` → ("lienket", "ABCD-EFGH"); None for a non-command or a
        command addressed to another bot."""
        if not text.startswith("/"):
            return None, ""
        head, _, rest = text.partition(" ")
        name, _, addressee = head[1:].partition("@")
        if addressee and self.bot.username and addressee.lower() != self.bot.username.lower():
            return None, ""
        return name.lower(), rest.strip()

    async def _reply(self, message: Message, text: str) -> None:
        try:
            await self.bot.send_message(
                message.chat.id,
                text,
                reply_parameters=ReplyParameters(
                    message_id=message.message_id, allow_sending_without_reply=True
                ),
                message_thread_id=message.message_thread_id if message.is_topic_message else None,
            )
        except TelegramError as exc:
            log.warning("could not reply in chat %s: %s", message.chat.id, exc)

    async def _link_group(self, message: Message, code: str) -> None:
        if message.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
            await self._reply(message, "Hãy gửi lệnh /lienket <mã> trong nhóm Telegram của đơn vị.")
            return
        if not code:
            await self._reply(message, "Cách dùng: /lienket <mã> (mã do quản trị viên đơn vị cấp).")
            return
        assert message.from_user is not None
        user_id, chat_id = message.from_user.id, message.chat.id
        try:
            link = await self._db(
                lambda s: links.link_group(s, code, chat_id=chat_id, telegram_user_id=user_id)
            )
        except links.LinkError as exc:
            await self._reply(message, f"❌ {exc}")
            return
        log.info("unit %s linked to chat %s by Telegram user %s", link.unit_code, chat_id, user_id)
        text = (
            f"✅ Đã liên kết nhóm này với {link.unit_name}. Phản ánh mới của đơn vị sẽ được gửi "
            "vào đây. Mỗi cán bộ gửi /canbo <mã cá nhân> để có thể xử lý hồ sơ từ Telegram."
        )
        if link.previous_chat_id is not None:
            text += " (Nhóm cũ của đơn vị không còn nhận thông báo.)"
        await self._reply(message, text)

    async def _link_member(self, message: Message, code: str) -> None:
        if not code:
            await self._reply(message, "Cách dùng: /canbo <mã> (mã cá nhân do quản trị viên cấp).")
            return
        assert message.from_user is not None
        user = message.from_user
        chat_id = message.chat.id
        try:
            member = await self._db(
                lambda s: links.link_member(
                    s, code, telegram_user_id=user.id, chat_id=chat_id, username=user.username
                )
            )
        except links.LinkError as exc:
            await self._reply(message, f"❌ {exc}")
            return
        await self._reply(
            message,
            f"✅ Đã liên kết tài khoản Telegram của bạn với cán bộ {member.staff_name}.",
        )

    async def _staff_reply(self, message: Message) -> None:
        original = message.reply_to_message
        assert original is not None and message.from_user is not None
        chat_id, original_id, user_id = message.chat.id, original.message_id, message.from_user.id
        text = message.text or ""

        def queue(session: Session) -> tuple[str, str] | None:
            case_id = session.execute(
                select(TelegramMessage.case_id).where(
                    TelegramMessage.chat_id == chat_id, TelegramMessage.message_id == original_id
                )
            ).scalar_one_or_none()
            if case_id is None:
                return None  # a reply to something else: group chatter
            staff = self._staff_for(session, user_id, case_id)
            card = load_card(session, case_id)
            assert card is not None
            if not text.strip():
                raise _Refused("Chỉ gửi được tin nhắn chữ tới người dân.")
            try:
                casework.reply_to_citizen(session, case_id, text, actor=Actor.staff(staff.id))
            except casework.CaseworkError as exc:
                session.rollback()
                raise _Refused(str(exc)) from exc
            return card.ref_code, staff_label(staff)

        try:
            queued = await self._db(queue)
        except _Refused as refused:
            await self._reply(message, f"❌ {refused.message}")
            return
        if queued is None:
            return
        ref_code, _name = queued
        await self._reply(
            message, f"📨 Đã nhận trả lời cho hồ sơ {ref_code}; hệ thống đang gửi tới người dân."
        )

    # ------------------------------------------------------------------ polling and webhook

    async def poll(self, *, stop_event: asyncio.Event, timeout: int = 30) -> None:
        """Long polling for development: removes the webhook, then handles updates until stopped."""
        await self.bot.delete_webhook()
        offset: int | None = None
        while not stop_event.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset,
                    timeout=timeout,
                    allowed_updates=["message", "callback_query"],
                    read_timeout=timeout + 10,
                )
            except TelegramError as exc:
                log.warning("getUpdates failed: %s", exc)
                await asyncio.sleep(3)
                continue
            for update in updates:
                offset = update.update_id + 1
                try:
                    await self.process_update(update)
                except Exception:
                    log.exception("update %s failed", update.update_id)

    async def set_webhook(self, url: str) -> bool:
        """Register ``url`` with the configured secret token (required)."""
        from bot.settings import WEBHOOK_SECRET_RE

        secret = self.config.telegram_webhook_secret
        if not WEBHOOK_SECRET_RE.match(secret):
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        return bool(
            await self.bot.set_webhook(
                url, secret_token=secret, allowed_updates=["message", "callback_query"]
            )
        )


def _seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
