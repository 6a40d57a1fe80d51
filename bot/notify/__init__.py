"""Staff notifications: the Telegram bot for unit groups and the outbox worker.

* :mod:`bot.settings` — the environment variables this package reads;
* :mod:`bot.notify.links` — one-time codes linking a Telegram group to a unit and a Telegram
  account to a staff member;
* :mod:`bot.notify.messages` — what a case message says and which buttons it carries, and the
  bot's other texts;
* :mod:`bot.delivery.senders` — the outbox row a sender receives and what it answers
  (:class:`~bot.delivery.senders.CitizenSender` is the interface for citizen channels);
* :mod:`bot.notify.outbox` — the worker: claims due rows, delivers, retries with backoff, marks
  each sent exactly once;
* :mod:`bot.notify.scans` — the scans the worker runs now and then: missed deadlines, bodies'
  answers, morning summaries, Monday's digest;
* :mod:`bot.notify.telegram` — the python-telegram-bot side: posting case messages, long
  polling, registering the webhook;
* :mod:`bot.notify.handlers` — what the bot does with officers' updates: buttons, replies,
  linking commands;
* :mod:`bot.notify.web` — mounting it in the aiohttp staff service: the webhook route factory
  ``telegram_routes(app)`` and the worker's ``cleanup_ctx``.

Run ``python -m bot.notify --help`` for the command-line tools (link codes, worker, polling).
"""
