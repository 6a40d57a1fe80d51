"""Answers to programme and contact questions, composed from the knowledge base and the unit file.

National facts come from ``content/programmes/``; local facts (address, phone, hours, reception
schedule, donation account) only from the unit configuration. When a local fact is missing the
answer says whom to ask: the assistant never invents a number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.knowledge.programmes import ASPECTS, KnowledgeBase, Programme, aspect_labels, render_answer
from bot.knowledge.replies import reply_text
from bot.knowledge.units import UnitInfo
from bot.vietnamese.normalize import fold


def helpful_buttons() -> list[dict[str, str]]:
    """The buttons under "did that help?" (the question is ``helpful_question``)."""
    return [
        {"title": reply_text("button_helpful_yes"), "payload": "/affirm"},
        {"title": reply_text("button_helpful_no"), "payload": "/deny"},
    ]


def _contact_fields() -> tuple[tuple[str, str], ...]:
    return (
        ("address", reply_text("contact_label_address")),
        ("phone", reply_text("contact_label_phone")),
        ("email", reply_text("contact_label_email")),
        ("hours", reply_text("contact_label_hours")),
        ("reception", reply_text("contact_label_reception")),
    )


def _donation_fields() -> tuple[tuple[str, str], ...]:
    return (
        ("account_name", reply_text("donation_label_account_name")),
        ("account_number", reply_text("donation_label_account_number")),
        ("bank", reply_text("donation_label_bank")),
        ("note", reply_text("donation_label_note")),
    )


@dataclass(frozen=True)
class Reply:
    """One message to the citizen: text and optional quick-reply buttons."""

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)


def payload(intent: str, **entities: str) -> str:
    """A button payload that Rasa reads as an intent with entities, without running the NLU."""
    if not entities:
        return f"/{intent}"
    return f"/{intent}{json.dumps(entities, ensure_ascii=False, separators=(',', ':'))}"


def _place(unit: UnitInfo) -> str:
    return unit.short_name or unit.name


def contact_facts(unit: UnitInfo) -> str | None:
    """The unit's known contact facts as one sentence block, or None when none is known."""
    lines = [
        f"{label}: {str(unit.contact.get(key) or '').strip()}"
        for key, label in _contact_fields()
        if str(unit.contact.get(key) or "").strip()
    ]
    if not lines:
        return None
    return f"{unit.name} — " + "; ".join(lines) + "."


def donation_facts(unit: UnitInfo) -> str | None:
    """The unit's published donation account, or None when the unit file has none."""
    donation: Mapping[str, object] = unit.donation or {}
    lines = [
        f"{label}: {str(donation.get(key) or '').strip()}"
        for key, label in _donation_fields()
        if str(donation.get(key) or "").strip()
    ]
    if not str(donation.get("account_number") or "").strip():
        return None
    return reply_text("donation_facts", unit=unit.name, facts="; ".join(lines))


def unit_contact_sentence(unit: UnitInfo | None, *, with_donation: bool = False) -> str:
    """What replaces ``{unit_contact}``: the facts, or an honest "ask here" sentence."""
    if unit is None:
        return reply_text("contact_unknown_unit")
    parts = []
    facts = contact_facts(unit)
    parts.append(
        facts
        if facts
        else reply_text("contact_no_local_facts", what=reply_text("contact_what_address_phone"),
                        unit=unit.name, place=_place(unit))
    )
    if with_donation:
        donation = donation_facts(unit)
        if donation:
            parts.append(donation)
    return " ".join(parts)


def canonical_programme(value: str | None, kb: KnowledgeBase) -> str | None:
    """Map an extracted value (canonical, a title, or a keyword) to a programme of the KB."""
    if not value:
        return None
    if value in kb:
        return value
    key = fold(value.replace("_", " "))
    for programme in kb.programmes:
        names = [programme.programme.replace("_", " "), programme.title, programme.short_title,
                 *programme.keywords]
        if any(key == fold(n) for n in names if n):
            return programme.programme
    return None


def programme_menu(kb: KnowledgeBase) -> Reply:
    return Reply(
        reply_text("programme_menu"),
        [
            {"title": p.button_title, "payload": payload("ask_programme", programme=p.programme)}
            for p in kb.programmes
        ],
    )


def candidates_menu(kb: KnowledgeBase, candidates: list[str], aspect: str | None = None) -> Reply | None:
    """The two programmes a question is most likely about, and the full list as a way out.

    When the assistant is unsure between two programmes it offers those two (issue 11), not all
    thirteen; None when fewer than two of ``candidates`` are known programmes.
    """
    known = []
    for name in candidates:
        try:
            known.append(kb.get(name))
        except KeyError:
            continue
    known = known[:2]
    if len(known) < 2:
        return None
    extra = {"aspect": aspect} if aspect else {}
    buttons = [{"title": p.button_title,
                "payload": payload("ask_programme", programme=p.programme, **extra)}
               for p in known]
    buttons.append({"title": reply_text("button_programme_other"), "payload": "/ask_programme"})
    return Reply(reply_text("programme_which_of_these"), buttons)


def aspect_buttons(programme: Programme, exclude: str | None = None) -> list[dict[str, str]]:
    labels = aspect_labels()
    return [
        {
            "title": labels[aspect],
            "payload": payload("ask_programme", programme=programme.programme, aspect=aspect),
        }
        for aspect in ASPECTS
        if aspect != exclude and programme.answer(aspect)
    ]


#: Words that carry no question of their own around a programme name ("cho em hỏi về ... ạ").
_FILLER = set(
    "cho em anh chi toi minh hoi ve voi a ad la gi thong tin muon biet duoc khong ko k "
    "nhe nha di vay the nao chuong trinh quy cuoc van dong cua mat tran mttq o phuong xa "
    "tim hieu giup xin can oi ban biet ai".split()
)


def unanswered_question(
    text: str, programme_span: tuple[int, int] | None, programme: Programme | None = None
) -> bool:
    """True when the citizen asked something specific that no aspect covers.

    "Quỹ vì người nghèo" or "cho hỏi về quỹ vì người nghèo" is a request for the overview; "quỹ
    vì người nghèo năm nay quyên góp được bao nhiêu tiền" is a question the knowledge base cannot
    answer, and the assistant must say so instead of passing the overview off as an answer.
    """
    if programme_span is not None:
        start, end = programme_span
        text = text[:start] + " " + text[end:]
    names: set[str] = set()
    if programme is not None:
        for name in (programme.title, programme.short_title, *programme.keywords):
            names.update(fold(name).split())
    words = [w for w in fold(text).replace("?", " ").split() if w.isalpha()]
    return len([w for w in words if w not in _FILLER and w not in names]) >= 3


def programme_overview(programme: Programme) -> Reply:
    return Reply(
        f"{programme.title}: {programme.summary}\n\n" + reply_text("programme_more"),
        aspect_buttons(programme),
    )


def programme_answer(programme: Programme, aspect: str, unit: UnitInfo | None) -> Reply | None:
    """The answer to one aspect, with local facts filled in; None if the KB has none."""
    raw = programme.answer(aspect)
    if raw is None:
        return None
    contact = unit_contact_sentence(unit, with_donation=aspect == "ung_ho")
    return Reply(render_answer(raw, contact, reply_text("contact_unknown_unit")))


def honest_overview(programme: Programme, unit: UnitInfo | None) -> list[Reply]:
    """"I don't know exactly, here is who can" — then the general information."""
    who = unit.name if unit else reply_text("answer_who_default")
    return [
        Reply(
            reply_text("answer_not_exact", who=who),
            [{"title": reply_text("button_person"), "payload": "/request_human"}],
        ),
        programme_overview(programme),
    ]


def no_answer(programme: Programme, aspect: str, unit: UnitInfo | None) -> Reply:
    """An honest "I don't know, here is who can" for an aspect the KB does not cover."""
    who = unit.name if unit else reply_text("answer_who_default")
    return Reply(
        reply_text("answer_no_aspect", aspect=aspect_labels().get(aspect, aspect),
                   programme=programme.title, who=who),
        [{"title": reply_text("button_person"), "payload": "/request_human"}],
    )


def contact_answer(unit: UnitInfo) -> Reply:
    facts = contact_facts(unit)
    if facts:
        return Reply(facts)
    return Reply(
        reply_text("contact_no_local_facts", what=reply_text("contact_what_all"),
                   unit=unit.name, place=_place(unit)),
        [{"title": reply_text("button_person"), "payload": "/request_human"}],
    )


def unit_choice(candidates: list[UnitInfo], intent: str, entity: str) -> Reply:
    return Reply(
        reply_text("unit_which"),
        [
            {"title": (c.short_name or c.name)[:20], "payload": payload(intent, **{entity: c.code})}
            for c in candidates[:10]
        ],
    )
