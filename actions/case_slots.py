"""The slots of the feedback / petition form, shared by the modules that fill, save and clear it
(``case_form``, ``case_interruptions``, ``cases``): one place for the names domain.yml declares."""

from __future__ import annotations

#: What one case draft holds; cleared when a form opens, after saving and on cancel.
CASE_SLOTS = (
    "case_content", "case_location", "case_unit", "case_category", "case_consent",
    "case_name", "case_phone", "case_confirm", "case_attachments", "case_complaint_detail",
)
#: How many times in a row the current step was not understood.
MISSES_SLOT = "case_misses"
#: The moderation marker of the case being written (bot.moderation.gate: clean, rude, threat).
MODERATION_SLOT = "case_moderation"
#: Words from which a message already tells the problem: the message that opens the form, or
#: the one the assistant asked back about just before (``actions/cases.py``), is its content.
STORY_WORDS = 8
