"""Delivering staff replies, status changes and hand-backs into the citizen's conversation.

Each outbox row becomes an external intent triggered through Rasa's HTTP API
(``POST /conversations/<id>/trigger_intent?output_channel=latest``): the message is recorded in
the conversation's transcript and leaves through the channel the citizen last used (Facebook,
Zalo; for the web chat the page picks it up from the transcript). This module implements the
outbox worker's ``CitizenSender`` protocol.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.cases.handoff import CITIZEN_HANDBACK
from bot.db.models import OutboxKind
from bot.delivery.errors import classify_trigger_failure
from bot.delivery.senders import DeliveryResult, OutboxRow

EXTERNAL_INTENTS = {
    OutboxKind.CITIZEN_REPLY: "EXTERNAL_staff_reply",
    OutboxKind.CITIZEN_STATUS: "EXTERNAL_case_status",
    CITIZEN_HANDBACK: "EXTERNAL_handback",
}
#: Outbox kinds this sender delivers.
KINDS = frozenset(EXTERNAL_INTENTS)


def external_intent(row: OutboxRow) -> tuple[str, dict[str, Any]]:
    """The intent and entities that carry this row into the conversation."""
    payload = row.payload
    ref = str(payload.get("ref_code") or "")
    if row.kind == OutboxKind.CITIZEN_REPLY:
        return EXTERNAL_INTENTS[row.kind], {"reply_text": str(payload.get("text") or ""),
                                            "ref_code": ref}
    if row.kind == OutboxKind.CITIZEN_STATUS:
        entities = {"ref_code": ref, "case_status": str(payload.get("status") or "")}
        if payload.get("reason"):
            entities["reply_text"] = str(payload["reason"])
        return EXTERNAL_INTENTS[row.kind], entities
    if row.kind == CITIZEN_HANDBACK:
        return EXTERNAL_INTENTS[row.kind], {"ref_code": ref}
    raise ValueError(f"not a citizen outbox kind: {row.kind}")


class RasaCitizenSender:
    """Triggers the external intent in the citizen's Rasa conversation."""

    def __init__(self, rasa_url: str, http: aiohttp.ClientSession, *, token: str = "",
                 timeout: float = 30.0) -> None:
        self.rasa_url = rasa_url.rstrip("/")
        self.http = http
        self.token = token
        self.timeout = timeout

    async def send(self, row: OutboxRow) -> DeliveryResult:
        conversation = row.payload.get("conversation_id") or row.payload.get("channel_user_id")
        if not conversation:
            return DeliveryResult.fail("the case has no conversation to reply to")
        try:
            intent, entities = external_intent(row)
        except ValueError as error:
            return DeliveryResult.fail(str(error))
        url = f"{self.rasa_url}/conversations/{quote(str(conversation), safe='')}/trigger_intent"
        params = {"output_channel": "latest"}
        if self.token:
            params["token"] = self.token
        try:
            async with self.http.post(
                url, params=params, json={"name": intent, "entities": entities},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                body = await response.text()
                if response.status == 200:
                    return DeliveryResult.sent()
                verdict = classify_trigger_failure(response.status, body)
                if verdict == "refused":
                    # Facebook's 24 h / 7 days or Zalo's window: keep it visible, never retry.
                    return DeliveryResult.refused(
                        f"outside the citizen's messaging window: {body[:300]}"
                    )
                if verdict == "retry":
                    return DeliveryResult.retry(f"Rasa answered {response.status}: {body[:200]}")
                return DeliveryResult.fail(f"Rasa refused ({response.status}): {body[:200]}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return DeliveryResult.retry(f"Rasa unreachable: {error}")
