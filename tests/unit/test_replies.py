"""content/replies.yml against the code that uses it: every key the code asks for exists, every
placeholder a text names is supplied (and nothing else is), no text is dead; an edit is picked
up without a restart."""

from __future__ import annotations

import ast
import os
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
                names = [k.arg for k in node.keywords]
                supplied = None if None in names else frozenset(n for n in names if n)
                yield Use(f"{path.relative_to(ROOT)}:{node.lineno}", name, key, supplied)


USES = list(_uses())


def test_the_check_sees_the_code() -> None:
    assert len(USES) > 50
    assert any(u.where.startswith("actions/cases.py") for u in USES)


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
