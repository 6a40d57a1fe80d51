"""The editable content (programme knowledge base, unit tree), loaded once and reloaded when a
trainer edits a file: the action server picks up a fixed answer without a restart."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from bot.knowledge.programme_files import load_knowledge_base
from bot.knowledge.programmes import KnowledgeBase
from bot.knowledge.units import UnitTree, load_units
from bot.settings import get_settings

T = TypeVar("T")


class Reloading(Generic[T]):
    """Holds a value built from files and rebuilds it when any file's mtime changes."""

    def __init__(self, paths: Callable[[], list[Path]], build: Callable[[], T]) -> None:
        self._paths = paths
        self._build = build
        self._stamp: tuple[tuple[str, float], ...] | None = None
        self._value: T | None = None
        self._lock = threading.Lock()

    def _current_stamp(self) -> tuple[tuple[str, float], ...]:
        stamps = []
        for path in self._paths():
            try:
                stamps.append((str(path), path.stat().st_mtime))
            except FileNotFoundError:
                stamps.append((str(path), -1.0))
        return tuple(sorted(stamps))

    def get(self) -> T:
        stamp = self._current_stamp()
        with self._lock:
            if self._value is None or stamp != self._stamp:
                # A broken edit raises here with the file and entry named; the previous value is
                # not kept silently, so the error reaches the log at once.
                self._value = self._build()
                self._stamp = stamp
            return self._value


def _kb_dir() -> Path:
    return get_settings().content_dir / "programmes"


_knowledge = Reloading(
    lambda: sorted(_kb_dir().glob("*.y*ml")), lambda: load_knowledge_base(_kb_dir())
)
_units = Reloading(
    lambda: [get_settings().units_file], lambda: load_units(get_settings().units_file)
)


def knowledge_base() -> KnowledgeBase:
    return _knowledge.get()


def unit_tree() -> UnitTree:
    return _units.get()
