"""Command-line tools of the notification side.

    python -m bot.notify link-code --unit p_lang [--by admin_login] [--ttl-minutes 30]
    python -m bot.notify member-code --login can_bo_lang [--ttl-minutes 15]
    python -m bot.notify worker          # the outbox worker alone
    python -m bot.notify poll            # development: long polling + the outbox worker
    python -m bot.notify set-webhook --url https://example.org/telegram/webhook
    python -m bot.notify scan-overdue    # one overdue scan (the worker also runs it every minute)

Each command migrates the database to head first, like every process that uses it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db.engine import make_engine, session_scope
from bot.db.migrate import upgrade_to_head
from bot.db.models import Staff
from bot.delivery.senders import senders_for
from bot.notify import links
from bot.settings import NotifyConfig

log = logging.getLogger("bot.notify")


def _engine() -> Engine:
    upgrade_to_head()
    return make_engine()


def _staff_id(engine: Engine, login: str | None) -> int | None:
    if not login:
        return None
    with session_scope(engine, read_only=True) as session:
        staff_id = session.execute(
            select(Staff.id).where(Staff.login == login.strip().lower())
        ).scalar_one_or_none()
    if staff_id is None:
        raise SystemExit(f"no staff account with login {login!r}")
    return int(staff_id)


def _link_code(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        created_by = _staff_id(engine, args.by)
        with session_scope(engine) as session:
            code = links.create_group_link_code(
                session,
                args.unit,
                created_by=created_by,
                ttl=timedelta(minutes=args.ttl_minutes),
            )
    except links.LinkError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(code)
    print(
        f"Post '/lienket {code}' in the unit's Telegram group within {args.ttl_minutes} minutes "
        "(add the bot to the group first). The code works once.",
        file=sys.stderr,
    )
    return 0


def _member_code(args: argparse.Namespace) -> int:
    engine = _engine()
    try:
        staff_id = _staff_id(engine, args.login)
        assert staff_id is not None
        with session_scope(engine) as session:
            code = links.create_member_link_code(
                session, staff_id, ttl=timedelta(minutes=args.ttl_minutes)
            )
    except links.LinkError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(code)
    print(
        f"The officer sends '/canbo {code}' to the bot (in the unit group or a private chat) "
        f"within {args.ttl_minutes} minutes. The code works once.",
        file=sys.stderr,
    )
    return 0


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def _run(poll: bool) -> int:
    from bot.notify.outbox import run_worker
    from bot.notify.telegram import TelegramService, make_bot

    config = NotifyConfig()
    engine = _engine()
    stop = asyncio.Event()
    _stop_on_signals(stop)
    bot = make_bot(config)
    service = TelegramService(bot, engine, config=config) if bot is not None else None
    try:
        if service is not None:
            await service.start()
        elif poll:
            print("TELEGRAM_BOT_TOKEN is not set: nothing to poll", file=sys.stderr)
            return 1
        else:
            log.warning("TELEGRAM_BOT_TOKEN is not set: staff notifications stay in the outbox")
        senders = senders_for(service, None)
        tasks = [asyncio.create_task(run_worker(engine, senders, stop_event=stop))]
        if poll and service is not None:
            tasks.append(asyncio.create_task(service.poll(stop_event=stop)))
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return 0
    finally:
        if service is not None:
            await service.stop()
        engine.dispose()


async def _set_webhook(url: str) -> int:
    from bot.notify.telegram import TelegramService, make_bot

    config = NotifyConfig()
    bot = make_bot(config)
    if bot is None:
        print("TELEGRAM_BOT_TOKEN is not set", file=sys.stderr)
        return 1
    engine = make_engine()
    service = TelegramService(bot, engine, config=config)
    try:
        await service.start()
        ok = await service.set_webhook(url)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        await service.stop()
        engine.dispose()
    print("webhook set" if ok else "Telegram refused the webhook", file=sys.stderr)
    return 0 if ok else 1


def _scan_overdue() -> int:
    from bot.notify.scans import scan_overdue

    engine = _engine()
    try:
        with session_scope(engine) as session:
            queued = scan_overdue(session)
    finally:
        engine.dispose()
    print(f"{queued} overdue notification(s) queued")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.notify", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    link = commands.add_parser("link-code", help="one-time code linking a Telegram group to a unit")
    link.add_argument("--unit", required=True, help="unit code, e.g. p_lang")
    link.add_argument("--by", help="login of the admin asking for the code (recorded)")
    link.add_argument("--ttl-minutes", type=int, default=30)
    member = commands.add_parser("member-code", help="one-time code linking an officer's account")
    member.add_argument("--login", required=True)
    member.add_argument("--ttl-minutes", type=int, default=15)
    commands.add_parser("worker", help="run the outbox worker")
    commands.add_parser("poll", help="development: long polling and the outbox worker")
    hook = commands.add_parser("set-webhook", help="register the webhook with the secret token")
    hook.add_argument("--url", required=True)
    commands.add_parser("scan-overdue", help="queue overdue notifications once")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command in ("link-code", "member-code") and args.ttl_minutes <= 0:
        parser.error("--ttl-minutes must be positive")
    if args.command == "link-code":
        return _link_code(args)
    if args.command == "member-code":
        return _member_code(args)
    if args.command in ("worker", "poll"):
        from bot.observability import logs

        logs.configure("notify")  # a long-running process: the shared log format
        return asyncio.run(_run(poll=args.command == "poll"))
    if args.command == "set-webhook":
        return asyncio.run(_set_webhook(args.url))
    return _scan_overdue()


if __name__ == "__main__":
    raise SystemExit(main())
