"""Answers to programme and contact questions, composed from the knowledge base and the unit file.

National facts come from ``content/programmes/``; local facts (address, phone, hours, reception
schedule, donation account) only from the unit configuration. When a local fact is missing the
answer says whom to ask: the assistant never invents a number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.knowledge.programmes import ASPECT_LABELS, ASPECTS, KnowledgeBase, Programme, render_answer
from bot.knowledge.units import UnitInfo
from bot.vietnamese.normalize import fold

HELPFUL_QUESTION = "Thông tin này có giúp ích cho bạn không?"
HELPFUL_BUTTONS = [
    {"title": "Có, cảm ơn", "payload": "/affirm"},
    {"title": "Không", "payload": "/deny"},
]
ASK_UNIT = (
    "Bạn đang ở phường, xã nào? Bạn cho tôi biết tên phường hoặc xã (ví dụ: \"phường Láng\") "
    "để tôi chỉ đúng nơi liên hệ nhé."
)
NO_LOCAL_FACTS = (
    "Hiện tôi chưa có {what} của {unit}. Bạn vui lòng hỏi Ban Công tác Mặt trận ở thôn, tổ dân "
    "phố nơi bạn ở, hoặc đến trực tiếp trụ sở Ủy ban nhân dân {place} để được hướng dẫn."
)
UNKNOWN_UNIT_FALLBACK = (
    "Để biết địa chỉ, số điện thoại cụ thể, bạn hãy hỏi Ban Công tác Mặt trận ở thôn, tổ dân phố "
    "hoặc Ủy ban Mặt trận Tổ quốc xã, phường nơi bạn cư trú (bạn cũng có thể nhắn cho tôi tên "
    "phường, xã của bạn)."
)
_CONTACT_FIELDS = (
    ("address", "Địa chỉ"),
    ("phone", "Điện thoại"),
    ("email", "Email"),
    ("hours", "Giờ làm việc"),
    ("reception", "Lịch tiếp công dân"),
)
_DONATION_FIELDS = (
    ("account_name", "Tên tài khoản"),
    ("account_number", "Số tài khoản"),
    ("bank", "Ngân hàng"),
    ("note", "Nội dung chuyển khoản"),
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
        for key, label in _CONTACT_FIELDS
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
        for key, label in _DONATION_FIELDS
        if str(donation.get(key) or "").strip()
    ]
    if not any(key == "account_number" and str(donation.get(key) or "").strip()
               for key, _ in _DONATION_FIELDS):
        return None
    return f"Tài khoản tiếp nhận ủng hộ của {unit.name}: " + "; ".join(lines) + "."


def unit_contact_sentence(unit: UnitInfo | None, *, with_donation: bool = False) -> str:
    """What replaces ``{unit_contact}``: the facts, or an honest "ask here" sentence."""
    if unit is None:
        return UNKNOWN_UNIT_FALLBACK
    parts = []
    facts = contact_facts(unit)
    parts.append(
        facts
        if facts
        else NO_LOCAL_FACTS.format(what="địa chỉ và số điện thoại", unit=unit.name, place=_place(unit))
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
        "Bạn muốn tìm hiểu về chương trình, hoạt động nào của Mặt trận?",
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
    buttons.append({"title": "Chương trình khác", "payload": "/ask_programme"})
    return Reply("Bạn đang hỏi về chương trình nào dưới đây ạ?", buttons)


def aspect_buttons(programme: Programme, exclude: str | None = None) -> list[dict[str, str]]:
    return [
        {
            "title": ASPECT_LABELS[aspect],
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
        f"{programme.title}: {programme.summary}\n\nBạn muốn biết thêm điều gì?",
        aspect_buttons(programme),
    )


def programme_answer(programme: Programme, aspect: str, unit: UnitInfo | None) -> Reply | None:
    """The answer to one aspect, with local facts filled in; None if the KB has none."""
    raw = programme.answer(aspect)
    if raw is None:
        return None
    contact = unit_contact_sentence(unit, with_donation=aspect == "ung_ho")
    return Reply(render_answer(raw, contact, UNKNOWN_UNIT_FALLBACK))


def honest_overview(programme: Programme, unit: UnitInfo | None) -> list[Reply]:
    """"I don't know exactly, here is who can" — then the general information."""
    who = unit.name if unit else "Ủy ban Mặt trận Tổ quốc xã, phường nơi bạn cư trú"
    return [
        Reply(
            f"Xin lỗi, tôi chưa có thông tin chính xác để trả lời câu hỏi này. Để có câu trả "
            f"lời đúng, bạn hãy hỏi {who}, hoặc nhắn \"gặp cán bộ\" để cán bộ trả lời bạn.",
            [{"title": "Gặp cán bộ", "payload": "/request_human"}],
        ),
        programme_overview(programme),
    ]


def no_answer(programme: Programme, aspect: str, unit: UnitInfo | None) -> Reply:
    """An honest "I don't know, here is who can" for an aspect the KB does not cover."""
    who = unit.name if unit else "Ủy ban Mặt trận Tổ quốc xã, phường nơi bạn cư trú"
    return Reply(
        f"Xin lỗi, tôi chưa có thông tin về \"{ASPECT_LABELS.get(aspect, aspect)}\" của "
        f"{programme.title}. Để có câu trả lời chính xác, bạn hãy hỏi {who}, hoặc nhắn "
        "\"gặp cán bộ\" để cán bộ trả lời bạn.",
        [{"title": "Gặp cán bộ", "payload": "/request_human"}],
    )


def contact_answer(unit: UnitInfo) -> Reply:
    facts = contact_facts(unit)
    if facts:
        return Reply(facts)
    return Reply(
        NO_LOCAL_FACTS.format(
            what="địa chỉ, số điện thoại và lịch tiếp công dân",
            unit=unit.name,
            place=_place(unit),
        ),
        [{"title": "Gặp cán bộ", "payload": "/request_human"}],
    )


def unit_choice(candidates: list[UnitInfo], intent: str, entity: str) -> Reply:
    return Reply(
        "Tôi thấy có mấy đơn vị trùng tên. Bạn ở đơn vị nào ạ?",
        [
            {"title": (c.short_name or c.name)[:20], "payload": payload(intent, **{entity: c.code})}
            for c in candidates[:10]
        ],
    )
