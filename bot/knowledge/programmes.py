"""The programme knowledge base: answers about the Front's programmes, as plain data.

What one programme says per aspect (:class:`Programme`, with facts that stop being true on a
date), the whole base (:class:`KnowledgeBase`), what is still missing from it, and how an answer's
placeholder is filled in (:func:`render_answer`). Reading and checking the YAML files trainers edit
is ``bot.knowledge.programme_files``: kept apart because nothing that answers a citizen needs the
line-numbered YAML checks, which are most of the code.

``{unit_contact}`` is the only placeholder: the caller replaces it with the unit's contact facts
(from the unit configuration) or with a sentence telling whom to ask (see :func:`render_answer`).
National facts live in the programme files; local facts (addresses, phone numbers, accounts)
never do.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ASPECTS",
    "UNIT_CONTACT_PLACEHOLDER",
    "aspect_labels",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Programme",
    "missing_entries",
    "render_answer",
]

#: The ``aspect`` entity values of the NLU contract, in the order buttons are shown.
ASPECTS: tuple[str, ...] = (
    "gioi_thieu",
    "doi_tuong",
    "cach_tham_gia",
    "ung_ho",
    "lien_he",
    "thoi_gian",
)


def aspect_labels() -> dict[str, str]:
    """Short button labels (≤ 20 characters each) for the aspects, from content/replies.yml."""
    from bot.knowledge.replies import reply_text  # here: the replies' loader imports this module

    return {
        "gioi_thieu": reply_text("aspect_gioi_thieu"),
        "doi_tuong": reply_text("aspect_doi_tuong"),
        "cach_tham_gia": reply_text("aspect_cach_tham_gia"),
        "ung_ho": reply_text("aspect_ung_ho"),
        "lien_he": reply_text("aspect_lien_he"),
        "thoi_gian": reply_text("aspect_thoi_gian"),
    }


#: The one placeholder an answer may contain.
UNIT_CONTACT_PLACEHOLDER = "{unit_contact}"

#: Button titles must fit Facebook's quick replies (20 characters).
SHORT_TITLE_MAX = 20


class KnowledgeBaseError(ValueError):
    """Malformed knowledge-base data; the message names the file and the entry at fault.

    ``str(error)`` reads like ``content/programmes/cuu_tro.yml:12: programme 'cuu_tro',
    aspect 'ung_ho': the answer is empty``.
    """

    def __init__(
        self,
        path: Path,
        reason: str,
        *,
        programme: str | None = None,
        aspect: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = path
        self.reason = reason
        self.programme = programme
        self.aspect = aspect
        self.line = line
        where = str(path) if line is None else f"{path}:{line}"
        entry = []
        if programme is not None:
            entry.append(f"programme {programme!r}")
        if aspect is not None:
            entry.append(f"aspect {aspect!r}")
        prefix = f"{where}: {', '.join(entry)}: " if entry else f"{where}: "
        super().__init__(prefix + reason)


def vietnam_today() -> dt.date:
    """Today's date in Vietnam (the day a citizen reads the answer)."""
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=7)).date()


@dataclass(frozen=True)
class Expiring:
    """An answer true until ``valid_until`` (inclusive); ``afterwards`` from the next day."""

    valid_until: dt.date
    afterwards: str


@dataclass(frozen=True)
class Programme:
    """One programme's entry: its title, summary and the answers per aspect."""

    programme: str
    title: str
    summary: str
    answers: Mapping[str, str]
    keywords: tuple[str, ...] = ()
    source: Path | None = field(default=None, compare=False)
    short_title: str = ""
    expiring: Mapping[str, Expiring] = field(default_factory=dict)
    #: The place in the programme menu (1 first); None: after the ordered ones, by name.
    order: int | None = field(default=None, compare=False)

    @property
    def button_title(self) -> str:
        """What a quick-reply button for this programme says (at most 20 characters)."""
        return self.short_title or self.title[:SHORT_TITLE_MAX]

    def answer(self, aspect: str, today: dt.date | None = None) -> str | None:
        """The raw answer for ``aspect`` (may contain ``{unit_contact}``), or ``None`` when this
        programme has no answer for it or ``aspect`` is not an aspect at all (an NLU value that
        slipped through is not a crash). A fact past its ``valid_until`` gives its
        ``afterwards`` text."""
        expiring = self.expiring.get(aspect)
        if expiring is not None and (today or vietnam_today()) > expiring.valid_until:
            return expiring.afterwards
        return self.answers.get(aspect)

    def expiring_within(self, days: int, today: dt.date | None = None
                        ) -> list[tuple[str, dt.date]]:
        """(aspect, valid_until) of the facts that expire within ``days`` or already have."""
        horizon = (today or vietnam_today()) + dt.timedelta(days=days)
        return [(aspect, e.valid_until) for aspect, e in sorted(self.expiring.items())
                if e.valid_until <= horizon]

    @property
    def aspects(self) -> tuple[str, ...]:
        """The aspects this programme answers, in :data:`ASPECTS` order."""
        return tuple(a for a in ASPECTS if a in self.answers)


@dataclass(frozen=True)
class KnowledgeBase:
    """All programmes, keyed by their ``programme`` value."""

    directory: Path
    _by_name: Mapping[str, Programme]

    @property
    def programmes(self) -> list[Programme]:
        """Programmes in menu order (each file's ``order``), then any without one by name."""
        return sorted(self._by_name.values(),
                      key=lambda p: (p.order is None, p.order or 0, p.programme))

    def get(self, programme: str) -> Programme:
        """The programme with this value; ``KeyError`` if there is none."""
        try:
            return self._by_name[programme]
        except KeyError:
            raise KeyError(f"no programme {programme!r} in {self.directory}") from None

    def __contains__(self, programme: object) -> bool:
        return programme in self._by_name

    def __iter__(self) -> Iterator[Programme]:
        return iter(self.programmes)

    def __len__(self) -> int:
        return len(self._by_name)


def render_answer(text: str, unit_contact: str | None, fallback: str) -> str:
    """Replace ``{unit_contact}`` in ``text`` with the unit's contact facts.

    ``unit_contact`` is the already formatted contact sentence(s) of the citizen's unit; when it
    is ``None`` or blank, ``fallback`` (a sentence telling whom to ask) is used instead. Other
    braces are left alone (no ``str.format``), and spaces left around the placeholder are tidied.
    """
    if UNIT_CONTACT_PLACEHOLDER not in text:
        return text
    contact = unit_contact.strip() if unit_contact and unit_contact.strip() else fallback.strip()
    rendered = text.replace(UNIT_CONTACT_PLACEHOLDER, contact)
    return re.sub(r"[ \t]{2,}", " ", rendered).strip()


def missing_entries(kb: KnowledgeBase, expected_programmes: Iterable[str]) -> list[str]:
    """Describe what a complete knowledge base still lacks, one line per gap.

    Lists each expected programme without a file (``"bau_cu: no programme file"``) and each
    aspect of a present programme without an answer (``"bau_cu.thoi_gian: no answer"``). An
    empty list means every expected programme answers every aspect in :data:`ASPECTS`.
    """
    gaps: list[str] = []
    for name in expected_programmes:
        if name not in kb:
            gaps.append(f"{name}: no programme file")
            continue
        programme = kb.get(name)
        gaps.extend(f"{name}.{a}: no answer" for a in ASPECTS if programme.answer(a) is None)
    return gaps
