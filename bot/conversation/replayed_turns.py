"""A chat message sent twice is answered twice with the first answer, and its turn runs once.

Issue 14: when a Rasa replica is killed in the middle of a turn, the chat client's connection
drops (HAProxy must not resend a request an upstream may have acted on), and the citizen's
message failed. The chat page and ``bench/citizens.py`` now send a client message id
(``message_id`` in the REST body) and send the same request once more when the connection drops
or the answer is 502/503. The retry is only safe if the server recognises it, so the turn is
de-duplicated where it is atomic already: **under the conversation's lock, against the
conversation's stored events.**

* The lock (:mod:`bot.conversation.redis_lock`, one holder across replicas, a short lease renewed
  while the turn runs) serialises every attempt carrying the id: a retry that arrives while the
  first attempt still runs waits for it; a killed replica's lease runs out within seconds.
* Rasa saves a turn's events in one write at its end (``MessageProcessor.handle_message`` ->
  ``save_tracker``): the user message, with ``message_id`` = the client's id, and the bot messages
  it produced. Either the whole turn is stored or none of it.

So when a message comes in, before NLU, :func:`answer_of` looks for its id among the stored
events. Found: the turn ran, and what the first attempt answered is the bot messages that
followed that user message; they are sent again to the caller and nothing runs (no NLU, no
action, no event stored). Not found: the first attempt never completed (the replica died before
saving, or the turn failed and was not stored), so this attempt runs the turn, as the first one.

Why not ``seen_messages`` (the Facebook/Zalo de-duplication, :func:`bot.channels.store.admit`):
it records an id *before* the turn, which suits a platform that must be acknowledged first, but
says nothing about whether the turn then completed. A retry of a message whose replica died
mid-turn would find the id recorded and no answer, and could neither run it (the first attempt
may still be running elsewhere) nor answer it. Adding a stored reply and a liveness lease to that
table would duplicate, in a second store that can disagree with it, what the lock and the
tracker already hold. Only a collecting output (the REST reply) is replayed: the platform
channels never hand a message id to Rasa twice (``seen_messages``), and replaying to a platform
would re-send messages the person already has.
"""

from __future__ import annotations

from collections.abc import Sequence

from rasa.shared.core.events import BotUttered, Event, UserUttered

__all__ = ["AlreadyAnswered", "answer_of"]


class AlreadyAnswered(Exception):
    """Raised inside a turn whose message was handled already; carries that turn's answer."""

    def __init__(self, message_id: str, replies: list[BotUttered]) -> None:
        super().__init__(f"message {message_id} was answered already")
        self.message_id = message_id
        self.replies = replies


def answer_of(events: Sequence[Event], message_id: str | None) -> list[BotUttered] | None:
    """The bot messages that answered the user message ``message_id`` in ``events`` (possibly
    none), or None when no stored user message has that id."""
    if not message_id:
        return None
    events = list(events)  # a tracker's events are a deque, which does not slice
    start = None
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if isinstance(event, UserUttered) and event.message_id == message_id:
            start = index
            break
    if start is None:
        return None
    replies: list[BotUttered] = []
    for event in events[start + 1:]:
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            replies.append(event)
    return replies
