"""Reading and checking what a citizen types into the feedback / petition form.

Plain functions, no Rasa: the form's validation action (actions/case_form.py) calls them, and
tests check them table by table. Everything a citizen reads is Vietnamese.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.knowledge.replies import reply_text
from bot.settings import get_settings
from bot.vietnamese.normalize import fold

SKIP_WORDS = {"bo qua", "khong", "khong co", "ko", "k", "thoi", "skip", "-", "an danh", "khong muon"}
UNKNOWN_PLACE_WORDS = {"khong biet", "khong ro", "chua ro", "khong nho", "bo qua"}
MIN_CONTENT_LETTERS = 3

#: Which slots "Sửa ..." clears, and how the summary's edit buttons name them.
EDIT_FIELDS: dict[str, tuple[str, ...]] = {
    "content": ("case_content", "case_complaint_detail"),
    "place": ("case_unit", "case_location"),
    "category": ("case_category",),
    "contact": ("case_consent", "case_name", "case_phone"),
}


def edit_labels() -> dict[str, str]:
    """The summary's edit buttons by field, worded in content/replies.yml."""
    return {
        "content": reply_text("button_edit_content"),
        "place": reply_text("button_edit_place"),
        "category": reply_text("button_edit_category"),
        "contact": reply_text("button_edit_contact"),
    }


_EDIT_KEYWORDS = {
    "content": ("noi dung", "mo ta", "su viec"),
    "place": ("dia diem", "dia chi", "phuong", "xa", "noi xay ra", "o dau"),
    "category": ("linh vuc", "loai", "the loai", "danh muc"),
    "contact": ("lien he", "so dien thoai", "sdt", "ho ten", "ten"),
}


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    aliases: tuple[str, ...]
    button: str = ""

    @property
    def button_title(self) -> str:
        """Quick-reply title: Facebook cuts them at 20 characters."""
        return (self.button or self.name)[:20]


@lru_cache(maxsize=4)
def load_categories(path: Path | None = None) -> tuple[Category, ...]:
    """The configured case categories (content/categories.yml), in display order."""
    path = path or get_settings().content_dir / "categories.yml"
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    items = data.get("categories")
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: expected a non-empty 'categories' list")
    categories = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("code") or not item.get("name"):
            raise ValueError(f"{path}: categories[{i}] needs 'code' and 'name'")
        aliases = tuple(str(a) for a in item.get("aliases") or [])
        categories.append(
            Category(str(item["code"]), str(item["name"]), aliases, str(item.get("button") or ""))
        )
    return tuple(categories)


def category_name(code: str | None, categories: tuple[Category, ...] | None = None) -> str:
    for category in categories or load_categories():
        if category.code == code:
            return category.name
    return code or ""


def match_category(text: str, categories: tuple[Category, ...] | None = None) -> str | None:
    """A category code from what the citizen typed (a code, a name, an alias, or a number).

    Whole-name matches win; otherwise the longest alias found inside the text. None when
    nothing matches, so the form asks with buttons instead of guessing.
    """
    categories = categories or load_categories()
    key = fold(text)
    if not key:
        return None
    if key.isdigit() and 1 <= int(key) <= len(categories):
        return categories[int(key) - 1].code
    for category in categories:
        if key in (fold(category.code.replace("_", " ")), fold(category.name), category.code):
            return category.code
    best: tuple[int, str] | None = None
    padded = f" {key} "
    for category in categories:
        for alias in (category.name, *category.aliases):
            alias_key = fold(alias)
            if alias_key and f" {alias_key} " in padded:
                if best is None or len(alias_key) > best[0]:
                    best = (len(alias_key), category.code)
    return best[1] if best else None


def is_skip(text: str) -> bool:
    return fold(text).strip(" .!") in SKIP_WORDS


#: Words that refuse consent, anywhere in the answer ("gửi ẩn danh", "không đồng ý", "thôi khỏi").
_REFUSE = re.compile(r"\b(an danh|khong dong y|ko dong y|k dong y|khong muon|tu choi|"
                     r"khong cho|khong can|khoi|bo qua|thoi)\b")
#: Whole answers that agree, once folded ("Đồng ý", "có ạ", "ok", "vâng").
_AGREE = {"dong y", "dong y a", "toi dong y", "em dong y", "co", "co a", "ok", "oke", "okay",
          "vang", "vang a", "da", "da dong y", "duoc", "dc", "uh", "u", "yes", "dy", "chap nhan"}


def read_consent(text: str, intent: str | None) -> bool | None:
    """A citizen's answer to the consent notice: True, False, or None when it is not clear.

    Law 91/2025/QH15 (Article 9) wants consent that is voluntary, clear and specific, never
    assumed; so a refusal word anywhere wins ("gửi ẩn danh" is a refusal, though NLU may read
    "gửi" as agreeing), agreement needs words that agree, and anything else is asked again.
    A tapped button arrives as its payload and is taken as it says.
    """
    raw = (text or "").strip()
    if raw.startswith("/"):
        return {"/affirm": True, "/deny": False}.get(raw.split("{", 1)[0])
    folded = fold(raw).strip(" .!?")
    if _REFUSE.search(folded) or folded in SKIP_WORDS or intent == "deny":
        return False
    if folded in _AGREE or re.search(r"\b(dong y|chap nhan)\b", folded):
        return True
    words = folded.split()
    if intent == "affirm" and words and words[0] in _AGREE:  # "có, số tôi là…", "ok luôn"
        return True
    return None


def is_unknown_place(text: str) -> bool:
    return fold(text).strip(" .!") in UNKNOWN_PLACE_WORDS


def content_problem(text: str) -> str | None:
    """Why a description cannot be accepted as it is, or None when it can."""
    letters = sum(1 for ch in text if unicodedata.category(ch).startswith("L"))
    if letters < MIN_CONTENT_LETTERS:
        return reply_text("case_content_no_letters")
    return None


#: Words that open a petition without telling what happened (folded): who writes, to whom, the
#: verbs of petitioning, "a matter", someone to handle it, politeness; with the form's topics
#: (the names of ``content/categories.yml``), "tôi muốn phản ánh về môi trường" is only these,
#: and "cống nghẹt mấy hôm nay" has none of them (:func:`describes_problem`).
_OPENER_WORDS = frozenset("""
    toi em minh tui chau con bac anh chi ong ba co chu di ad admin page oi a nha nhe nghen voi
    muon can xin cho gui mot 1 vai chut it chuyen viec van de vu su tinh trang ve cua len den
    phan anh kien nghi khieu nai to cao to giac trinh bao trinh bay bao don thu gap mat tran
    mttq phuong xa nay nao do dang nhu sau sau day the lam giup gium dum duoc khong ko k
    nguoi can bo xu ly giai quyet
    """.split())
#: Words of its own a short first message needs, beside :data:`_OPENER_WORDS`, to be the
#: problem it describes ("cống nghẹt mấy hôm nay": 5).
MIN_PROBLEM_WORDS = 3


def describes_problem(text: str) -> bool:
    """Whether a short message that opened the petition form already tells what happened (stop
    48: a citizen who types "cống nghẹt mấy hôm nay" instead of tapping "Gửi phản ánh" was asked
    "what happened?" and had to type it again). Longer messages always do (``STORY_WORDS`` in
    ``actions/case_slots.py``); a few words are a description when, beside the words that only
    open a petition, at least :data:`MIN_PROBLEM_WORDS` remain."""
    words = re.findall(r"[^\W_]+", fold(text).lower())
    topics = {w for c in load_categories() for w in re.findall(r"[^\W_]+", fold(c.name).lower())}
    return sum(w not in _OPENER_WORDS and w not in topics for w in words) >= MIN_PROBLEM_WORDS


_NAME_PREFIX = re.compile(
    r"^(?:tên\s+(?:tôi|em|mình|cháu|con)\s+là|tôi\s+tên\s+là|tôi\s+là|tên\s+là|tên|"
    r"ten\s+(?:toi|em|minh|chau|con)\s+la|toi\s+ten\s+la|toi\s+la|ten\s+la|ten)\s*[:\-]?\s*",
    re.IGNORECASE,
)


def parse_name(text: str) -> str | None:
    """A person's name from "tên tôi là Nguyễn Văn An" or just "Nguyễn Văn An"."""
    name = _NAME_PREFIX.sub("", text.strip()).strip(" .,!")
    if not name or len(name) > 80 or any(ch.isdigit() for ch in name):
        return None
    if not all(unicodedata.category(ch).startswith("L") or ch in " .'-" for ch in name):
        return None
    return " ".join(part[:1].upper() + part[1:] for part in name.split())


def edit_target(text: str, field: str | None = None) -> str | None:
    """Which part of the draft "sửa ..." refers to (a button sends the field directly)."""
    if field in EDIT_FIELDS:
        return field
    key = f" {fold(text)} "
    for target, words in _EDIT_KEYWORDS.items():
        if any(f" {w} " in key for w in words):
            return target
    return None


def kind_label(kind: str) -> str:
    return reply_text("case_kind_feedback") if kind == "feedback" else reply_text("case_kind_petition")


def summary(
    *,
    kind: str,
    content: str,
    unit_name: str,
    location: str | None,
    category: str | None,
    consent: bool | None,
    name: str | None,
    phone: str | None,
) -> str:
    """The draft shown before the citizen confirms: exactly what will be saved."""
    lines = [
        reply_text("case_summary_intro", kind=kind_label(kind)),
        reply_text("case_summary_content", content=content),
        reply_text("case_summary_place", unit=unit_name) + (f" ({location})" if location else ""),
        reply_text("case_summary_category", category=category_name(category)),
    ]
    if consent:
        contact = ", ".join(x for x in (name, phone) if x) or reply_text("case_summary_no_contact")
        lines.append(reply_text("case_summary_contact", contact=contact))
    else:
        lines.append(reply_text("case_summary_anonymous"))
    lines.append(reply_text("case_summary_confirm"))
    return "\n".join(lines)
