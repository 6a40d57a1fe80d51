"""The slots of the subscription form (issue 16), shared by the modules that fill, save and clear
it (``subscription_form``, ``subscriptions``): one place for the names domain.yml declares."""

from __future__ import annotations

#: What one subscription being made holds; cleared when the form opens, after it and on a stop.
SUB_SLOTS = ("sub_unit", "sub_topics", "sub_consent", "sub_consent_version")
#: Set once the assistant has offered to subscribe, or the citizen subscribed or withdrew:
#: the offer is never pushed twice in a conversation.
OFFERED_SLOT = "subscription_offered"
#: The form's name in domain.yml and the rules.
FORM = "subscription_form"
