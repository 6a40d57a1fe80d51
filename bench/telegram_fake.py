"""The fake Telegram Bot API for the load test, and every unit's group linked to it.

The fake itself is ``bot.fakes.telegram.FakeTelegram``, shared with the test suite (imported, not
copied: one fake to keep in line with the Bot API). Here it runs on its own event loop in a
thread, so the citizens' loop and the web service's worker never wait on each other, and reads of
its state happen on its loop (never a half-updated list).

Every unit of the unit tree gets a group, linked the way an admin does it (a one-time code from
``bot.notify.links``, used for the group's chat id), so every case's staff notification has a
chat to go to and can be counted.
"""

from __future__ import annotations

from bot.fakes.telegram import FakeTelegram, FakeTelegramThread

TOKEN = "123456:load-test-token"
WEBHOOK_SECRET = "load_Webhook-secret_0123456789"
ADMIN_TELEGRAM_ID = 990001
#: Group chat ids: this base minus the unit's position in the tree.
CHAT_BASE = -1002000000000


class TelegramThread(FakeTelegramThread):
    """The shared threaded fake with what the load test reads from it."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(FakeTelegram(token=token))

    def env(self) -> dict[str, str]:
        """What the web service and the worker need to talk to this fake."""
        return {
            "TELEGRAM_BOT_TOKEN": self.fake.token,
            "TELEGRAM_API_BASE": self.base_url,
            "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }

    def posts(self) -> list[tuple[int, str]]:
        """(chat id, text) of every message the fake accepted (sendMessage), edits applied."""
        return self.read(
            lambda f: [(chat, str(m.get("text") or "")) for (chat, _), m in f.messages.items()]
        )

    def send_calls(self) -> list[str]:
        """The text of every sendMessage request, accepted or not."""
        return self.read(
            lambda f: [str(c.params.get("text") or "") for c in f.calls if c.method == "sendMessage"]
        )


def link_every_unit(database_url: str) -> dict[int, str]:
    """Link a group to every active unit (the DB must be migrated and the units synced);
    returns {chat id: unit code}."""
    from sqlalchemy import select

    from bot.db.engine import make_engine, session_scope
    from bot.db.models import Unit
    from bot.notify import links

    engine = make_engine(database_url)
    chats: dict[int, str] = {}
    try:
        with session_scope(engine) as session:
            codes = session.execute(
                select(Unit.code).where(Unit.active.is_(True)).order_by(Unit.code)
            ).scalars().all()
            for n, unit_code in enumerate(codes, 1):
                chat_id = CHAT_BASE - n
                code = links.create_group_link_code(session, unit_code)
                links.link_group(
                    session, code, chat_id=chat_id, telegram_user_id=ADMIN_TELEGRAM_ID
                )
                chats[chat_id] = unit_code
    finally:
        engine.dispose()
    return chats
