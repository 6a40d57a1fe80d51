"""content/replies.yml against the code that uses it: every key the code asks for exists, every
placeholder a text names is supplied (and nothing else is), no text is dead; an edit is picked
up without a restart; and no text a citizen can receive is written in the code (issue 13, item
8): a Vietnamese string literal in ``actions/`` or ``bot/`` outside the places listed below
fails here, so a new hard-coded reply goes to content/replies.yml instead."""

from __future__ import annotations

import ast
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.knowledge.replies import (
    REPLY_FUNCTIONS,
    RepliesError,
    load_replies,
    placeholders,
    replies,
    reply_prefix,
    reply_text,
)
from bot.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
TEXTS = load_replies(ROOT / "content" / "replies.yml")


@dataclass(frozen=True)
class Use:
    where: str
    function: str
    key: str | None  # None: the key is not a literal (the checks could not follow it)
    supplied: frozenset[str] | None  # None: values passed as **mapping


def _uses() -> Iterator[Use]:
    for top in ("actions", "bot"):
        for path in sorted((ROOT / top).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else (
                    func.attr if isinstance(func, ast.Attribute) else None)
                if name not in REPLY_FUNCTIONS or path.name == "replies.py":
                    continue
                first = node.args[0] if node.args else None
                key = first.value if isinstance(first, ast.Constant) and isinstance(
                    first.value, str) else None
                if key is None and path == ROOT / "bot" / "web" / "chat.py":
                    continue  # the page's placeholders: their keys are followed by _page_uses
                names = [k.arg for k in node.keywords]
                supplied = None if None in names else frozenset(n for n in names if n)
                yield Use(f"{path.relative_to(ROOT)}:{node.lineno}", name, key, supplied)


def _page_uses() -> Iterator[Use]:
    """The chat page names its texts as ``{{html:key}}`` / ``{{js:key}}`` (bot/web/chat.py)."""
    from bot.web.chat import _PLACEHOLDER, STATIC

    page = STATIC / "chat.html"
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        for match in _PLACEHOLDER.finditer(line):
            yield Use(f"{page.relative_to(ROOT)}:{number}", "page", match.group(2), frozenset())


USES = list(_uses()) + list(_page_uses())


def test_the_check_sees_the_code() -> None:
    assert len(USES) > 50
    assert any(u.where.startswith("actions/cases.py") for u in USES)
    # Services word citizen texts too (the intake summary, status answers, programme answers).
    assert any(u.where.startswith("bot/cases/intake.py") for u in USES)
    assert any(u.where.startswith("bot/knowledge/answers.py") for u in USES)


def test_every_key_is_a_literal_the_checks_can_follow() -> None:
    assert [u.where for u in USES if u.key is None] == []


def test_every_key_the_code_uses_exists() -> None:
    assert [f"{u.where}: {u.key}" for u in USES if u.key not in TEXTS] == []


def test_every_placeholder_is_supplied_and_nothing_else() -> None:
    wrong = []
    for use in USES:
        if use.function != "reply_text" or use.key not in TEXTS:
            continue
        needed = placeholders(TEXTS[use.key])
        if use.supplied != needed:
            wrong.append(f"{use.where}: {use.key} needs {sorted(needed)}, "
                         f"gets {sorted(use.supplied) if use.supplied is not None else '**'}")
    assert wrong == []


def test_no_text_is_dead() -> None:
    used = {u.key for u in USES}
    assert sorted(set(TEXTS) - used) == []


def test_dates_are_written_as_before() -> None:
    from datetime import datetime

    assert reply_text("handoff_later", when=datetime(2026, 1, 2, 8, 5)).endswith(
        "từ 08:05 ngày 02/01/2026.")


def test_a_value_with_braces_is_said_as_typed() -> None:
    assert reply_text("staff_reply", text="{ref} {0}") == "Cán bộ Mặt trận: {ref} {0}"


@pytest.fixture
def content_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    copy = tmp_path / "content"
    copy.mkdir()
    shutil.copy(ROOT / "content" / "replies.yml", copy / "replies.yml")
    monkeypatch.setenv("CONTENT_DIR", str(copy))
    get_settings.cache_clear()
    yield copy / "replies.yml"
    get_settings.cache_clear()


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    stamp = path.stat().st_mtime + 5  # a later mtime even on a coarse clock
    os.utime(path, (stamp, stamp))


def test_an_edit_is_picked_up_without_a_restart(content_copy: Path) -> None:
    assert reply_text("button_retry") == "Thử lại"
    _rewrite(content_copy, "button_retry: 'Thử lại'", "button_retry: 'Gửi lại'")
    assert reply_text("button_retry") == "Gửi lại"
    assert reply_prefix("handoff_started") == "Tôi đã chuyển cuộc trò chuyện tới cán bộ "


def test_a_broken_edit_names_the_text(content_copy: Path) -> None:
    _rewrite(content_copy, "mã hồ sơ {ref}.", "mã hồ sơ {ref.")
    with pytest.raises(RepliesError, match="case_saved"):
        replies()


#: Letters only Vietnamese writes (a tone mark, a breve, a horn, a circumflex, đ).
VIETNAMESE = re.compile(
    "[àáảãạăắằẳẵặâấầẩẫậèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵđ]", re.IGNORECASE)

#: Where Vietnamese literals belong in the code: what staff read, and language data. A citizen
#: never receives these in the chat.
VIETNAMESE_MODULES = {
    "bot/staff/": "the staff console and its accounts: read by staff",
    "bot/notify/": "Telegram cards and commands for units' groups: read by staff",
    "bot/fakes/": "fakes of the platforms for tests and demos",
    "bot/vietnamese/": "tone marks, teencode and folding tables: language data",
    "bot/moderation/rules.py": "moderation rule data and the categories' labels staff review",
    "bot/moderation/engine.py": "a verdict's explanation, shown to staff reviewing quarantine",
    "bot/moderation/ratelimit.py": "a rate-limit verdict's explanation, shown to staff",
    "bot/moderation/opinion.py": "the learned model's reason for a verdict, read by staff",
    "bot/moderation/normalise.py": "letter-folding tables matched against messages",
    "bot/cases/casework.py": "staff casework: its errors and status labels are the console's",
    "bot/cases/forwarding.py": "forwarding to a body: its errors and step labels are the console's",
    "bot/cases/outcome.py": "the recorded outcome: its errors are the console's",
    "bot/cases/cluster_words.py": "place and problem phrases matched against case texts",
}

#: Single literals elsewhere that must stay in the code: (module, how the literal starts) and
#: why. A citizen receives none of them as a message.
VIETNAMESE_LITERALS = {
    ("bot/cases/intake.py", "^(?:tên"): "a regex of the words before a name, matched",
    ("bot/channels/render.py", "\\s*(?:số"): "a regex of a numbered answer, matched",
    ("bot/knowledge/units.py", "đ"): "folding đ in unit names, matched",
    ("bot/cases/citizen.py", "Công dân đề nghị gặp cán bộ: "):
        "the handoff case's reason, read by staff",
    ("bot/cases/legal_deadlines.py", "Điều "): "an article citation, shown to staff only",
    ("bot/cases/legal_deadlines.py", "khoản "): "an article citation, shown to staff only",
    ("bot/cases/legal_type_eval.py", "); tố cáo recall "): "the classifier's evaluation report",
    ("bot/cases/legal_type_record.py", "Loại vụ việc không hợp lệ"):
        "an error of the staff console's type correction",
    ("bot/cases/legal_type_record.py", "Không tìm thấy hồ sơ."):
        "an error of the staff console's type correction",
    ("bot/cases/privacy.py", "[số điện thoại đã xóa]"):
        "the marker an erasure leaves in a stored case, read by staff",
    ("bot/cases/privacy.py", "[họ tên đã xóa]"):
        "the marker an erasure leaves in a stored case, read by staff",
    ("bot/cases/masking.py", "[SĐT]"): "a masked phone number in a digest quote, read by staff",
    ("bot/cases/masking.py", "ông bà anh chị"): "forms of address matched before a name",
    ("bot/conversation/erasure.py", "[đã xóa theo yêu cầu"):
        "the marker an erasure leaves in the tracker store",
    ("bot/moderation/gate.py", "Ngôn từ không phù hợp"): "a case marker's label, read by staff",
    ("bot/moderation/gate.py", "Có lời đe dọa bạo lực"): "a case marker's label, read by staff",
    ("bot/moderation/gate.py", "khỏi điên"): "marked words that are not complaint cues, matched",
    ("bot/moderation/gate.py", "\n    chặt phá"): "marked words of a wrong or a place, matched",
    ("bot/nlu/components.py", "xin chào"): "a warm-up message run through the tokenizer",
    ("bot/observability/redact.py", "[đã ẩn]"): "what a log line shows in place of personal data",
}


def _docstrings(tree: ast.AST) -> set[int]:
    """The string statements of a tree: docstrings, and the strings documenting an attribute."""
    found = set()
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if not isinstance(statements, list):
                continue
            for statement in statements:
                if (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
                        and isinstance(statement.value.value, str)):
                    found.add(id(statement.value))
    return found


@dataclass(frozen=True)
class Literal:
    module: str
    line: int
    text: str


def _vietnamese_literals() -> Iterator[Literal]:
    for top in ("actions", "bot"):
        for path in sorted((ROOT / top).rglob("*.py")):
            module = str(path.relative_to(ROOT))
            if any(module.startswith(place) for place in VIETNAMESE_MODULES):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            docs = _docstrings(tree)
            for node in ast.walk(tree):
                if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                        and id(node) not in docs and VIETNAMESE.search(node.value)):
                    yield Literal(module, node.lineno, node.value)


LITERALS = list(_vietnamese_literals())


def _allowed(literal: Literal) -> bool:
    return any(module == literal.module and literal.text.startswith(start)
               for module, start in VIETNAMESE_LITERALS)


def test_no_citizen_text_is_written_in_the_code() -> None:
    """What a citizen can receive is in content/replies.yml: call reply_text("key", ...)."""
    assert [f"{lit.module}:{lit.line}: {lit.text[:60]!r}" for lit in LITERALS
            if not _allowed(lit)] == []


def test_every_allowed_literal_is_still_there() -> None:
    """An allow-list entry whose literal went is removed, so the list stays the list."""
    stale = [entry for entry in VIETNAMESE_LITERALS
             if not any(lit.module == entry[0] and lit.text.startswith(entry[1])
                        for lit in LITERALS)]
    assert stale == []
    assert all((ROOT / place).exists() for place in VIETNAMESE_MODULES)


def test_the_literal_check_sees_a_hard_coded_reply() -> None:
    tree = ast.parse('"""Mô-đun."""\nX = "Xin lỗi bạn"\ndef f():\n    """Hàm."""\n'
                     '    return f"Hồ sơ {x}"\n')
    docs = _docstrings(tree)
    found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
             and isinstance(n.value, str) and id(n) not in docs and VIETNAMESE.search(n.value)]
    assert found == ["Xin lỗi bạn", "Hồ sơ "]


def test_the_chat_page_holds_no_vietnamese_and_every_text_resolves() -> None:
    """The page's own words are content too: a trainer rewords them in content/replies.yml."""
    from bot.web.chat import STATIC, render_page

    raw = (STATIC / "chat.html").read_text(encoding="utf-8")
    assert not VIETNAMESE.search(raw)
    page = render_page()
    assert "{{" not in page
    assert f"<h1>{TEXTS['chat_page_heading']}</h1>" in page
    assert f'send("/greet", "{TEXTS["chat_page_greeting"]}")' in page
