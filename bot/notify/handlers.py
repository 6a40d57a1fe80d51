"""What the staff bot does with the updates officers send it: button presses, commands, replies.

Kept apart from :mod:`bot.notify.telegram` (the bot's connection: posting case messages for the
outbox, long polling, registering the webhook) because this is where officers act on cases, with
its own rules: a button press changes the case through ``bot.cases.casework`` and edits the
message to show who did what; a reply to a case message becomes a ``citizen_reply`` through
``casework.reply_to_citizen``; ``/lienket <mã>`` links the group to a unit and ``/canbo <mã>``
links the sender's Telegram account to their staff account (``bot.notify.links``). Only a
linked, active staff member who can see the case (``casework.case_for_staff``) may act; anyone
else is told :data:`~bot.notify.messages.NO_PERMISSION` and nothing changes. What the messages
say is :mod:`bot.notify.messages`.

:class:`UpdateHandlers` is mixed into :class:`~bot.notify.telegram.TelegramService`, which
provides what it declares: the bot, the database, the unit tree, the clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
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
from telegram.error import TelegramError

from bot.cases import casework
from bot.cases.inbound import record_seen_message
from bot.cases.service import Actor
from bot.db.models import Case, CaseStatus, Staff, TelegramMessage
from bot.knowledge.units import UnitTree
from bot.notify import links
from bot.notify.messages import (
    BACK,
    HELP_TEXT,
    KIND_LABELS,
    NO_PERMISSION,
    RESOLVE,
    TAKE,
    TRANSFER,
    TRANSFER_TO,
    CaseCard,
    case_keyboard,
    decode_callback,
    load_card,
    render_case,
    staff_label,
    transfer_keyboard,
    unit_from_token,
)
from bot.settings import NotifyConfig

__all__ = ["UpdateHandlers"]

log = logging.getLogger(__name__)

T = TypeVar("T")


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


class UpdateHandlers:
    """Handles the updates of the staff bot (see the module docstring)."""

    # -- provided by TelegramService (declared here for the type checker; the service's win)
    bot: Bot
    config: NotifyConfig
    tz: ZoneInfo
    clock: Callable[[], datetime]

    @property
    def tree(self) -> UnitTree:
        raise NotImplementedError

    async def _db(self, work: Callable[[Session], T]) -> T:
        raise NotImplementedError

    def _local(self, moment: datetime) -> str:
        raise NotImplementedError

    async def _url_fallback(self, call: Callable[[bool], Awaitable[T]]) -> T:
        raise NotImplementedError

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
            if str(exc) == casework.NO_OUTCOME:  # issue 17: the form is in the console
                raise _Refused("Cần ghi nhận kết quả xử lý (đã làm gì, ai, ngày nào) trên trang "
                               "quản trị (nút «Xem») trước khi báo đã giải quyết.") from exc
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
