"""Moderation: keep gambling ads, scam links, loan and "earn money online" spam and abuse out of
the case list, without stopping the citizens who report exactly those things.

Public API::

    rules = load_rules()                 # content/moderation/*.yml, read once per process
    verdict = moderate(text, rules)      # Verdict(flagged, category, score, reason, rule_ids)
    limiter = SpamRateLimiter.from_rules(rules)
    verdict = limiter.check(sender_id, verdict)

A flagged verdict never becomes a case: the caller quarantines the message with the category and
the Vietnamese reason for staff review. The word lists are data that staff edit (see
:mod:`bot.moderation.rules` for the file format); this package holds only the machinery. It
imports neither Rasa nor anything that does work at import time.
"""

from __future__ import annotations

from bot.moderation.engine import Category, Verdict, moderate
from bot.moderation.normalise import NormalisedText, normalise
from bot.moderation.ratelimit import SpamRateLimiter
from bot.moderation.rules import (
    CATEGORIES,
    ModerationRules,
    ModerationRulesError,
    clear_rules_cache,
    load_rules,
)

__all__ = [
    "CATEGORIES",
    "Category",
    "ModerationRules",
    "ModerationRulesError",
    "NormalisedText",
    "SpamRateLimiter",
    "Verdict",
    "clear_rules_cache",
    "load_rules",
    "moderate",
    "normalise",
]
