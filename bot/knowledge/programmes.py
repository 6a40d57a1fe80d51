"""The programme knowledge base: answers about the Front's programmes, read from YAML.

Staff and trainers edit one file per programme in ``content/programmes/<programme>.yml``; this
module only reads and checks them. A file looks like::

    programme: quy_vi_nguoi_ngheo        # must equal the file name
    order: 1                             # optional: its place in the programme menu
    title: Quỹ "Vì người nghèo"
    summary: >-
      Two or three sentences.
    keywords: [vì người nghèo, ủng hộ]   # optional, for trainers
    aspects:                             # any of ASPECTS; a missing one is reported, not fatal
      gioi_thieu: >-
        What it is.
      lien_he: >-
        Whom to contact. {unit_contact}

A fact that stops being true on a known date (issue 11: the 15/3/2026 election was still "coming"
in December) is written as a mapping instead of a text::

      thoi_gian:
        text: >-
          What is true until the date.
        valid_until: 2030-06-30        # the last day the text is true
        afterwards: >-
          What to say from the next day on (never a past event as coming).

:meth:`Programme.answer` picks by today's date in Vietnam; ``./mttq validate`` lists every fact
that expires within 60 days (and any already expired), so a trainer rewrites it in time.

``{unit_contact}`` is the only placeholder: the caller replaces it with the unit's contact facts
(from the unit configuration) or with a sentence telling whom to ask (see :func:`render_answer`).
National facts live in these files; local facts (addresses, phone numbers, accounts) never do.

Nothing happens at import time: call :func:`load_knowledge_base` (or
:func:`load_default_knowledge_base`) from a factory or an action's setup.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "ASPECTS",
    "ASPECT_LABELS",
    "DEFAULT_CONTACT_FALLBACK",
    "UNIT_CONTACT_PLACEHOLDER",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Programme",
    "default_directory",
    "known_programmes",
    "load_default_knowledge_base",
    "load_knowledge_base",
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

#: Short Vietnamese button labels (≤ 20 characters each) for the aspects.
ASPECT_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "gioi_thieu": "Là gì?",
        "doi_tuong": "Dành cho ai?",
        "cach_tham_gia": "Cách tham gia",
        "ung_ho": "Cách ủng hộ",
        "lien_he": "Liên hệ ai?",
        "thoi_gian": "Khi nào?",
    }
)

#: The one placeholder an answer may contain.
UNIT_CONTACT_PLACEHOLDER = "{unit_contact}"

#: A fallback for :func:`render_answer` when the unit has no contact facts configured.
DEFAULT_CONTACT_FALLBACK = (
    "Bạn vui lòng hỏi Ban Công tác Mặt trận ở thôn, tổ dân phố hoặc đến trụ sở Ủy ban "
    "Mặt trận Tổ quốc Việt Nam xã, phường nơi bạn cư trú để được hướng dẫn cụ thể."
)

_PROGRAMME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
_TOP_LEVEL_KEYS = frozenset(
    {"programme", "order", "title", "short_title", "summary", "keywords", "aspects"}
)
#: Button titles must fit Facebook's quick replies (20 characters).
SHORT_TITLE_MAX = 20
_SUFFIXES = (".yml", ".yaml")


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


def load_knowledge_base(directory: Path) -> KnowledgeBase:
    """Read every ``*.yml`` (and ``*.yaml``) file in ``directory`` into a :class:`KnowledgeBase`.

    Raises :class:`KnowledgeBaseError` for a missing or empty directory and for any malformed
    file, naming the file and the entry at fault. Aspects without an answer are not an error
    here: :func:`missing_entries` reports them.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise KnowledgeBaseError(directory, "the knowledge-base directory does not exist")
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in _SUFFIXES)
    if not files:
        raise KnowledgeBaseError(directory, "no programme files (*.yml) in this directory")
    by_name: dict[str, Programme] = {}
    by_order: dict[int, Programme] = {}
    for path in files:
        programme = _load_file(path)
        previous = by_name.get(programme.programme)
        if previous is not None:
            raise KnowledgeBaseError(
                path,
                f"duplicate programme: already defined in {previous.source}",
                programme=programme.programme,
            )
        if programme.order is not None:
            same_place = by_order.get(programme.order)
            if same_place is not None:
                raise KnowledgeBaseError(
                    path,
                    f"'order' {programme.order} is already the place of {same_place.programme!r}",
                    programme=programme.programme,
                )
            by_order[programme.order] = programme
        by_name[programme.programme] = programme
    return KnowledgeBase(directory=directory, _by_name=MappingProxyType(by_name))


def default_directory() -> Path:
    """``<CONTENT_DIR>/programmes`` from the settings."""
    from bot.settings import get_settings

    return get_settings().content_dir / "programmes"


def load_default_knowledge_base() -> KnowledgeBase:
    """Load the knowledge base from :func:`default_directory` (call it once per process)."""
    return load_knowledge_base(default_directory())


def known_programmes(directory: Path | None = None) -> tuple[str, ...]:
    """The ``programme`` values the knowledge base answers, in menu order.

    The files in ``content/programmes/`` are the list: a programme is added by adding its file,
    and no list in the code has to follow (the NLU contract's values are checked against the
    training data by ``./mttq validate``)."""
    kb = load_knowledge_base(directory if directory is not None else default_directory())
    return tuple(p.programme for p in kb.programmes)


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


# --- parsing ---------------------------------------------------------------------------------


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _clean(text: str) -> str:
    """NFC, trimmed, with no run of spaces: what a chat bubble should show."""
    return re.sub(r"[ \t]+", " ", unicodedata.normalize("NFC", text)).strip()


def _mapping_items(
    node: MappingNode, path: Path, what: str, programme: str | None = None
) -> list[tuple[str, Node, int]]:
    """The (key, value node, key line) pairs of a mapping, refusing non-string and duplicate
    keys (PyYAML would silently keep the last of two equal keys)."""
    items: list[tuple[str, Node, int]] = []
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        line = _line(key_node)
        if not isinstance(key_node, ScalarNode) or not isinstance(key_node.value, str):
            raise KnowledgeBaseError(
                path, f"{what} keys must be plain names", programme=programme, line=line
            )
        key = key_node.value
        if key in seen:
            raise KnowledgeBaseError(
                path,
                f"duplicate key {key!r} in {what} (first on line {seen[key]})",
                programme=programme,
                aspect=key if what == "aspects" else None,
                line=line,
            )
        seen[key] = line
        items.append((key, value_node, line))
    return items


def _string(node: Node, path: Path, *, programme: str | None, aspect: str | None, name: str) -> str:
    """A non-empty string scalar (NFC, trimmed), or an error naming the entry."""
    line = _line(node)
    if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:str":
        kind = "nothing" if _is_null(node) else _kind(node)
        raise KnowledgeBaseError(
            path,
            f"{name} must be text, found {kind}",
            programme=programme,
            aspect=aspect,
            line=line,
        )
    text = _clean(str(node.value))
    if not text:
        raise KnowledgeBaseError(
            path, f"{name} is empty", programme=programme, aspect=aspect, line=line
        )
    return text


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    tag = str(node.tag).rsplit(":", 1)[-1]
    return f"a value of type {tag} ({node.value!r})"


def _compose(path: Path) -> Node | None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeBaseError(path, f"not UTF-8 text ({exc.reason})") from exc
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        # The problem mark is where the parser gave up (the culprit for bad indentation); the
        # context mark, when there is one, is where the construct began (the culprit for an
        # unclosed quote). Report the first as the line and name the second in the text.
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else int(mark.line) + 1
        parts = []
        if exc.context:
            ctx = exc.context_mark
            ctx_line = None if ctx is None else int(ctx.line) + 1
            parts.append(exc.context + ("" if ctx_line in (None, line) else f" (line {ctx_line})"))
        if exc.problem:
            parts.append(exc.problem)
        problem = " ".join(parts) or "the YAML does not parse"
        raise KnowledgeBaseError(path, f"invalid YAML: {problem}", line=line) from exc
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(path, f"invalid YAML: {exc}") from exc


def _load_file(path: Path) -> Programme:
    root = _compose(path)
    if root is None:
        raise KnowledgeBaseError(path, "the file is empty")
    if not isinstance(root, MappingNode):
        raise KnowledgeBaseError(
            path,
            f"the file must be a mapping (programme, title, ...), found {_kind(root)}",
            line=_line(root),
        )
    top = {key: (node, line) for key, node, line in _mapping_items(root, path, "the file")}

    if "programme" not in top:
        raise KnowledgeBaseError(path, "missing 'programme'", line=1)
    name_node, _ = top["programme"]
    name = _string(name_node, path, programme=None, aspect=None, name="'programme'")
    if not _PROGRAMME_RE.match(name):
        raise KnowledgeBaseError(
            path,
            "'programme' must be lower-case ASCII letters, digits and '_'",
            programme=name,
            line=_line(name_node),
        )
    if name != path.stem:
        raise KnowledgeBaseError(
            path,
            f"'programme' does not match the file name (expected {path.stem!r})",
            programme=name,
            line=_line(name_node),
        )

    unknown = sorted(set(top) - _TOP_LEVEL_KEYS)
    if unknown:
        node, line = top[unknown[0]]
        raise KnowledgeBaseError(
            path,
            f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_TOP_LEVEL_KEYS))})",
            programme=name,
            line=line,
        )
    for required in ("title", "summary", "aspects"):
        if required not in top:
            raise KnowledgeBaseError(path, f"missing {required!r}", programme=name)

    title = _string(top["title"][0], path, programme=name, aspect=None, name="'title'")
    short_title = ""
    if "short_title" in top:
        node, line = top["short_title"]
        short_title = _string(node, path, programme=name, aspect=None, name="'short_title'")
        if len(short_title) > SHORT_TITLE_MAX:
            raise KnowledgeBaseError(
                path,
                f"'short_title' has {len(short_title)} characters (at most {SHORT_TITLE_MAX}: "
                "it becomes a quick-reply button)",
                programme=name,
                line=line,
            )
    summary = _string(top["summary"][0], path, programme=name, aspect=None, name="'summary'")
    order = _order(top.get("order"), path, name)
    keywords = _keywords(top.get("keywords"), path, name)
    answers, expiring = _answers(top["aspects"][0], path, name)
    return Programme(
        programme=name,
        title=title,
        summary=summary,
        answers=MappingProxyType(answers),
        expiring=MappingProxyType(expiring),
        keywords=keywords,
        source=path,
        short_title=short_title,
        order=order,
    )


def _order(entry: tuple[Node, int] | None, path: Path, name: str) -> int | None:
    if entry is None:
        return None
    node, line = entry
    value = node.value if isinstance(node, ScalarNode) else None
    if node.tag != "tag:yaml.org,2002:int" or not str(value).isdigit() or int(str(value)) < 1:
        raise KnowledgeBaseError(path, "'order' must be a whole number from 1 (its place in the "
                                 "programme menu)", programme=name, line=line)
    return int(str(value))


def _keywords(entry: tuple[Node, int] | None, path: Path, name: str) -> tuple[str, ...]:
    if entry is None:
        return ()
    node, line = entry
    if not isinstance(node, SequenceNode):
        raise KnowledgeBaseError(
            path, f"'keywords' must be a list, found {_kind(node)}", programme=name, line=line
        )
    return tuple(
        _string(item, path, programme=name, aspect=None, name="each keyword") for item in node.value
    )


def _expiring(node: MappingNode, path: Path, name: str, aspect: str) -> tuple[str, Expiring]:
    """``{text, valid_until, afterwards}``: the answer now, and what replaces it after."""
    items = {key: (value, line) for key, value, line in
             _mapping_items(node, path, f"aspect {aspect!r}", programme=name)}
    allowed = {"text", "valid_until", "afterwards"}
    if set(items) != allowed:
        raise KnowledgeBaseError(
            path, f"a fact that expires needs exactly: {', '.join(sorted(allowed))}",
            programme=name, aspect=aspect, line=_line(node))
    text = _string(items["text"][0], path, programme=name, aspect=aspect, name="'text'")
    afterwards = _string(items["afterwards"][0], path, programme=name, aspect=aspect,
                         name="'afterwards'")
    raw, line = items["valid_until"]
    try:
        until = dt.date.fromisoformat(str(raw.value))
    except (ValueError, AttributeError, TypeError):
        raise KnowledgeBaseError(
            path, f"'valid_until' must be a date like 2030-06-30, found {_kind(raw)}",
            programme=name, aspect=aspect, line=line) from None
    return text, Expiring(until, afterwards)


def _answers(node: Node, path: Path, name: str) -> tuple[dict[str, str], dict[str, Expiring]]:
    if not isinstance(node, MappingNode):
        raise KnowledgeBaseError(
            path,
            f"'aspects' must be a mapping of aspect to answer, found {_kind(node)}",
            programme=name,
            line=_line(node),
        )
    answers: dict[str, str] = {}
    expiring: dict[str, Expiring] = {}
    for aspect, value, line in _mapping_items(node, path, "aspects", programme=name):
        if aspect not in ASPECTS:
            raise KnowledgeBaseError(
                path,
                f"unknown aspect (allowed: {', '.join(ASPECTS)})",
                programme=name,
                aspect=aspect,
                line=line,
            )
        if isinstance(value, MappingNode):
            text, expiring[aspect] = _expiring(value, path, name, aspect)
        else:
            text = _string(value, path, programme=name, aspect=aspect, name="the answer")
        for placeholder in _PLACEHOLDER_RE.findall(
                text + " " + (expiring[aspect].afterwards if aspect in expiring else "")):
            if "{" + placeholder + "}" != UNIT_CONTACT_PLACEHOLDER:
                raise KnowledgeBaseError(
                    path,
                    f"unknown placeholder {{{placeholder}}} (only {UNIT_CONTACT_PLACEHOLDER})",
                    programme=name,
                    aspect=aspect,
                    line=_line(value),
                )
        answers[aspect] = text
    return answers, expiring


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bot.knowledge.programmes [DIRECTORY]``: load, then list gaps; exit 1 on any problem.

    A DIRECTORY other than the configured one (a trainer's draft) is checked against the
    programmes the configured content holds: one it lacks is a gap, one it adds is noted."""
    args = list(sys.argv[1:] if argv is None else argv)
    directory = Path(args[0]) if args else default_directory()
    try:
        kb = load_knowledge_base(directory)
        known = known_programmes()
    except KnowledgeBaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    gaps = missing_entries(kb, known)
    for gap in gaps:
        print(f"missing: {gap}")
    extra = [p.programme for p in kb.programmes if p.programme not in known]
    for name in extra:
        print(f"note: {name} is not a programme value of {default_directory()}")
    print(f"{len(kb)} programmes, {len(gaps)} gaps")
    return 1 if gaps else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
