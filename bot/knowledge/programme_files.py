"""Reading and checking the programme files trainers edit into a :class:`KnowledgeBase`.

Kept apart from ``bot.knowledge.programmes`` (the data and how it answers) because checking a
hand-edited YAML file well — every error names the file, the line, the programme and the aspect —
is most of the code, and only loading needs it.

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

Nothing happens at import time: call :func:`load_knowledge_base` (or
:func:`load_default_knowledge_base`) from a factory or an action's setup.
``python -m bot.knowledge.programme_files [DIRECTORY]`` loads a directory and lists its gaps.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.knowledge.programmes import (
    ASPECTS,
    SHORT_TITLE_MAX,
    UNIT_CONTACT_PLACEHOLDER,
    Expiring,
    KnowledgeBase,
    KnowledgeBaseError,
    Programme,
    missing_entries,
)

__all__ = [
    "default_directory",
    "known_programmes",
    "load_default_knowledge_base",
    "load_knowledge_base",
    "main",
]

_PROGRAMME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
_TOP_LEVEL_KEYS = frozenset(
    {"programme", "order", "title", "short_title", "summary", "keywords", "aspects"}
)
_SUFFIXES = (".yml", ".yaml")


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
    """``python -m bot.knowledge.programme_files [DIRECTORY]``: load, then list gaps; exit 1 on any problem.

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
