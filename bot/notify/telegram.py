"""The staff side on Telegram (python-telegram-bot v22, used as a plain async Bot API client).

:class:`TelegramService` does three things with one ``telegram.Bot``:

* **posts** case messages to a unit's group — it is the outbox :class:`~bot.delivery.senders.Sender`
  for ``staff_notify``, ``overdue`` and ``citizen_message`` rows — with the buttons *Nhận xử lý*,
  *Đã giải quyết*, *Chuyển đơn vị* and *Xem* (a link to the console), and remembers which message
  belongs to which case;
* **handles updates** (button presses, commands, officers' replies): that is
  :class:`bot.notify.handlers.UpdateHandlers`, mixed into the service;
* **receives** updates through :func:`bot.notify.web.telegram_routes` (an aiohttp webhook that
  checks ``X-Telegram-Bot-Api-Secret-Token`` in constant time) or :meth:`TelegramService.poll`
  (long polling, for development).

A unit with no linked group has its notifications posted to the nearest unit above it that has
one, with a line saying so; with none anywhere the row waits in the outbox.

Database work runs in a thread (``asyncio.to_thread``), one ``session_scope`` per unit of work.
What the messages say is :mod:`bot.notify.messages`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from telegram import Bot, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from bot.db.engine import session_scope
from bot.db.models import TelegramMessage, Unit
from bot.db.types import utcnow
from bot.delivery.senders import (
    STAFF_KINDS,
    DeliveryResult,
    OutboxKind,
    OutboxRow,
)
from bot.knowledge.units import UnitTree
from bot.notify import links
from bot.notify.handlers import UpdateHandlers
from bot.notify.messages import (
    CaseCard,
    case_keyboard,
    follow_up_notes,
    headline,
    load_card,
    posting_notes,
    render_case,
    render_daily_summary,
    render_weekly_digest,
)
from bot.settings import NotifyConfig

__all__ = ["TelegramService", "make_bot"]

log = logging.getLogger(__name__)

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


class TelegramService(UpdateHandlers):
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
        if row.kind in (OutboxKind.DAILY_SUMMARY, OutboxKind.WEEKLY_DIGEST):
            return await self._send_summary(row)
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
        overdue_since = (
            self._local(card.sla_due_at)
            if row.kind == OutboxKind.OVERDUE and card.sla_due_at is not None
            else None
        )
        extra = posting_notes(
            unit_name=target.unit_name,
            via_unit_name=target.via_unit_name,
            from_name=from_name,
            overdue_since=overdue_since,
        )
        if row.kind == OutboxKind.FOLLOW_UP:
            extra.extend(follow_up_notes(row.payload, card.assignee))
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

        posted = await self._post(target, post)
        if isinstance(posted, DeliveryResult):
            return posted
        message = posted

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

    async def _post(self, target: _Target,
                    post: Callable[[bool], Awaitable[Message]]) -> Message | DeliveryResult:
        """Post to ``target``'s group; a Telegram error becomes the outbox's verdict on the row."""
        try:
            return await self._url_fallback(post)
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

    async def _send_summary(self, row: OutboxRow) -> DeliveryResult:
        """The morning summary (:mod:`bot.cases.daily_summary`) or Monday's digest
        (:mod:`bot.cases.weekly_digest`): plain text, no case, no buttons."""
        target = await self._db(lambda s: self._target(s, row.target))
        if target is None:
            return DeliveryResult.later(f"unit {row.target!r} has no linked Telegram group")
        render = render_weekly_digest if row.kind == OutboxKind.WEEKLY_DIGEST \
            else render_daily_summary
        text = render(row.payload, target.unit_name, self.config.staff_public_url)

        async def post(url_button: bool) -> Message:
            return await self.bot.send_message(
                target.chat_id, text, parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )

        posted = await self._post(target, post)
        return posted if isinstance(posted, DeliveryResult) else DeliveryResult.sent()

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
