"""The package rules of ARCHITECTURE.md, checked over the imports of every module.

A rule broken here is a design decision undone by accident: a service that imports a Rasa
component cannot be tested or reused without Rasa, a benchmark that imports the test suite
breaks when a test is renamed. Each rule lists what it forbids; the failure names the module,
the line and the import.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("bot", "actions", "tools", "bench")

#: Plain services: no Rasa, no web framework, no platform, no adapter of ours.
SERVICES = ("bot.cases", "bot.knowledge", "bot.delivery", "bot.moderation", "bot.db",
            "bot.vietnamese", "bot.announcements")
ADAPTERS = ("actions", "bot.channels", "bot.conversation", "bot.nlu", "bot.notify", "bot.staff",
            "bot.web", "bot.observability.action_server", "bot.fakes")
FRAMEWORKS = ("rasa", "rasa_sdk", "sanic", "telegram", "underthesea")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # what it imports, dotted (``from a import b`` gives ``a.b`` and ``a``)
    line: int

    def __str__(self) -> str:
        path = self.module.replace(".", "/")
        return f"{path}.py:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> Iterator[Import]:
    for top in CODE_DIRS:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "__pycache__" in path.parts or "migrations" in path.parts:
                continue
            module = _module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        yield Import(module, alias.name, node.lineno)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    yield Import(module, node.module, node.lineno)
                    for alias in node.names:
                        yield Import(module, f"{node.module}.{alias.name}", node.lineno)


IMPORTS = list(_imports())


def _within(name: str, packages: tuple[str, ...] | str) -> bool:
    packages = (packages,) if isinstance(packages, str) else packages
    return any(name == p or name.startswith(p + ".") for p in packages)


def _breaches(importers: tuple[str, ...] | str, forbidden: tuple[str, ...] | str,
              unless: tuple[str, ...] = (), allowed: tuple[str, ...] = ()) -> list[str]:
    """Imports by ``importers`` (except modules in ``unless``) of anything in ``forbidden``
    (except targets in ``allowed``)."""
    return sorted({
        str(i) for i in IMPORTS
        if _within(i.module, importers) and _within(i.target, forbidden)
        and not _within(i.module, unless) and not _within(i.target, allowed)
    })


def test_the_rules_see_the_code() -> None:
    """A rule over no imports passes whatever the code does: make sure the walk found them."""
    assert len(IMPORTS) > 500
    assert any(_within(i.module, "bot.cases") for i in IMPORTS)
    assert any(_within(i.target, "bot.nlu") for i in IMPORTS if _within(i.module, "bot.nlu"))


def test_only_the_nlu_package_imports_the_nlu_package() -> None:
    """The NLU components are Rasa graph components; services fold text with bot.vietnamese."""
    assert _breaches(CODE_DIRS, "bot.nlu", unless=("bot.nlu",)) == []


def test_services_know_no_rasa_and_no_platform() -> None:
    assert _breaches(SERVICES, FRAMEWORKS + ADAPTERS) == []


def test_vietnamese_text_is_a_leaf() -> None:
    assert _breaches("bot.vietnamese", CODE_DIRS, allowed=("bot.vietnamese",)) == []


def test_settings_are_a_leaf() -> None:
    """Every process reads its settings first; settings importing a service would start it."""
    assert _breaches("bot.settings", CODE_DIRS,
                     allowed=("bot.settings", "bot.service_secrets")) == []


def test_nothing_imports_the_test_suite() -> None:
    assert _breaches(CODE_DIRS, "tests") == []


def test_only_tests_and_benchmarks_use_the_platform_fakes() -> None:
    assert _breaches(CODE_DIRS, "bot.fakes", unless=("bot.fakes", "bench")) == []


def test_actions_reach_no_adapter_but_their_own() -> None:
    """Actions are Rasa's door into the services: not into the web service, the Telegram bot or
    another channel's code."""
    forbidden = ("bot.channels", "bot.staff", "bot.web", "bot.notify", "bot.fakes")
    assert _breaches("actions", forbidden) == []


def test_actions_run_no_sql() -> None:
    """Actions read the tracker, call one service function and word the reply: the unit of work
    and its queries live in ``bot.cases.citizen`` (run off the event loop), so an action neither
    opens a session nor knows the database's errors."""
    forbidden = ("sqlalchemy", "bot.db.engine", "bot.db.runtime", "bot.db.models")
    assert _breaches("actions", forbidden) == []


@pytest.mark.parametrize("top", CODE_DIRS)
def test_long_modules_say_why(top: str) -> None:
    """No module over 500 lines without a reason in its docstring ("Why this is one module"):
    a long module is usually several concerns that a newcomer cannot tell apart."""
    silent = []
    for path in sorted((ROOT / top).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines <= 500:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if not re.search(r"Why this is one module", doc):
            silent.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert silent == []


def test_one_function_writes_outbox_rows() -> None:
    """Every delivery is queued by ``bot.delivery.outbox.enqueue`` (issue 13 item 7): one place
    sets a new row's status, attempts and timing, and checks its kind against ``OutboxKind``."""
    writers = []
    for top in ("bot", "actions", "tools"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if path == ROOT / "bot" / "delivery" / "outbox.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Outbox":
                    writers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert writers == []
