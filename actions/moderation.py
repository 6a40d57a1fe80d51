"""The calm reply to a bare insult (issue 12): no case, nothing kept.

``bot.conversation.insult_policy.InsultPolicy`` predicts this action for a message outside a form
that the moderation rules find to be only an insult; the reply says how to report something or
reach a person. Inside a case, the gate of ``actions/cases.py`` answers the same way.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import Events, send
from bot.knowledge.answers import Reply
from bot.knowledge.replies import reply_text


class ActionCalmReply(Action):
    """A calm answer to an insult that asks and reports nothing."""

    def name(self) -> str:
        return "action_calm_reply"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Events:
        send(dispatcher, [Reply(reply_text("moderation_calm"))])
        return []
