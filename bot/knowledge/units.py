"""The tree of Front committees, loaded from YAML, and matching what citizens type against it.

Content is data: a deployment edits its units file (``UNITS_FILE``); Python only reads it. The
database keeps a copy (:mod:`bot.knowledge.unit_sync`) because cases and staff reference units by code.

Matching (:meth:`UnitTree.resolve`) has to cope with how people write places in chat: with or
without diacritics ("Cau Giay"), with administrative prefixes ("P. Láng", "quận Ba Đình", "TP Hà
Nội"), inside an address ("ngõ 5 phố Láng Hạ, phường Láng") or cut short ("Hoàng"). It returns one
unit only when that is the single reading; otherwise the candidates, so the bot asks rather than
routes a petition to the wrong committee.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = [
    "ResolveResult",
    "UnitInfo",
    "UnitTree",
    "UnitsFileError",
    "fold",
    "load_units",
]

_CODE_RE = re.compile(r"^[a-z0-9_]{1,64}$")


class UnitsFileError(ValueError):
    """The units file is missing, is not YAML, or does not describe one tree of units."""


@dataclass(frozen=True)
class UnitInfo:
    """One committee as the YAML describes it (empty contact fields mean "unknown")."""

    code: str
    name: str
    short_name: str
    level: str
    parent_code: str | None = None
    aliases: tuple[str, ...] = ()
    contact: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    donation: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    telegram_chat_id: int | None = None


@dataclass(frozen=True)
class ResolveResult:
    """The outcome of :meth:`UnitTree.resolve`.

    ``status`` is "one" (``unit`` is set), "ambiguous" (ask the citizen to choose or confirm one
    of ``candidates`` — possibly a single one when only a fragment of a name was typed), or
    "none" (not a known unit: route to :meth:`UnitTree.province`).
    """

    status: Literal["one", "ambiguous", "none"]
    candidates: tuple[UnitInfo, ...] = ()

    @property
    def unit(self) -> UnitInfo | None:
        return self.candidates[0] if self.status == "one" else None


# --------------------------------------------------------------------------- text normalisation


def fold(text: str) -> str:
    """Lower-case ``text`` and strip Vietnamese diacritics (``Đống Đa`` → ``dong da``)."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped.replace("đ", "d"))


def _words(text: str) -> tuple[str, ...]:
    """Lower-case NFC words, punctuation dropped ("P.Láng" → ("p", "láng"))."""
    cleaned = re.sub(r"[\W_]+", " ", unicodedata.normalize("NFC", text).lower())
    return tuple(cleaned.split())


#: Administrative prefixes and committee titles, as folded word sequences, longest first.
_PREFIXES: tuple[tuple[str, ...], ...] = tuple(
    sorted(
        (
            tuple(p.split())
            for p in (
                "uy ban mat tran to quoc viet nam",
                "uy ban mat tran to quoc",
                "uy ban mttq viet nam",
                "uy ban mttq",
                "ubmttq viet nam",
                "ubmttq",
                "mat tran to quoc viet nam",
                "mat tran to quoc",
                "mttq viet nam",
                "mttq",
                "thanh pho",
                "thi xa",
                "thi tran",
                "dac khu",
                "phuong",
                "xa",
                "quan",
                "huyen",
                "tinh",
                "tp",
                "tx",
                "tt",
                "p",
                "x",
                "q",
            )
        ),
        key=len,
        reverse=True,
    )
)


def _prefix_length(folded: Sequence[str], start: int = 0) -> int:
    """Number of words of the longest prefix starting at ``folded[start]`` (0 if none)."""
    for prefix in _PREFIXES:
        if tuple(folded[start : start + len(prefix)]) == prefix:
            return len(prefix)
    return 0


@dataclass(frozen=True)
class _Form:
    """A piece of text as accented words and folded words (same length, aligned)."""

    accented: tuple[str, ...]
    folded: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> _Form:
        accented = _words(text)
        return cls(accented, tuple(fold(w) for w in accented))

    @property
    def has_diacritics(self) -> bool:
        return self.accented != self.folded

    @property
    def passes(self) -> tuple[bool, ...]:
        """How to compare it: with its accents first when it has any ("làng" is not "Láng"),
        then without."""
        return (True, False) if self.has_diacritics else (False,)

    def words(self, accented: bool) -> tuple[str, ...]:
        return self.accented if accented else self.folded

    def variants(self) -> list[_Form]:
        """This form, then with leading prefixes removed one at a time (never down to nothing)."""
        out = [self]
        current = self
        while True:
            n = _prefix_length(current.folded)
            if n == 0 or n >= len(current.folded):
                return out
            current = _Form(current.accented[n:], current.folded[n:])
            out.append(current)


@dataclass(frozen=True)
class _Key:
    unit_code: str
    form: _Form  # fully stripped form of one name/alias
    variants: tuple[_Form, ...]


def _find(haystack: Sequence[str], needle: Sequence[str]) -> Iterator[int]:
    n = len(needle)
    for i in range(len(haystack) - n + 1):
        if tuple(haystack[i : i + n]) == tuple(needle):
            yield i


def _marked(folded: Sequence[str], start: int) -> bool:
    """True when the words just before ``start`` are an administrative prefix ("phường …")."""
    for prefix in _PREFIXES:
        n = len(prefix)
        if start >= n and tuple(folded[start - n : start]) == prefix:
            return True
    return False


# --------------------------------------------------------------------------- the tree


class UnitTree:
    """The committees of one deployment: a single root (the province) and its descendants."""

    def __init__(
        self, units: Sequence[UnitInfo], *, source: Path | None = None, sample: bool = False
    ) -> None:
        self.source = source
        self.sample = sample
        self._units: dict[str, UnitInfo] = {u.code: u for u in units}
        self._order: dict[str, int] = {u.code: i for i, u in enumerate(units)}
        self._children: dict[str, list[str]] = {u.code: [] for u in units}
        roots = []
        for unit in units:
            if unit.parent_code is None:
                roots.append(unit.code)
            else:
                self._children[unit.parent_code].append(unit.code)
        if len(roots) != 1:
            raise ValueError(f"a unit tree needs exactly one root, found {roots}")
        self._root = roots[0]
        self._keys: list[_Key] = []
        for unit in units:
            for text in (unit.name, unit.short_name, *unit.aliases, unit.code):
                # "(mẫu)" marks sample data; it is not part of the name people type.
                form = _Form.of(re.sub(r"\([^)]*\)", " ", text))
                if form.folded:
                    variants = tuple(form.variants())
                    self._keys.append(_Key(unit.code, variants[-1], variants))

    # -- navigation
    def __len__(self) -> int:
        return len(self._units)

    def __iter__(self) -> Iterator[UnitInfo]:
        return iter(self._units.values())

    def __contains__(self, code: object) -> bool:
        return code in self._units

    def __getitem__(self, code: str) -> UnitInfo:
        return self._units[code]

    def get(self, code: str | None) -> UnitInfo | None:
        return self._units.get(code) if code else None

    def province(self) -> UnitInfo:
        """The root unit: where a case goes when the citizen's location is unknown."""
        return self._units[self._root]

    def children(self, code: str) -> tuple[UnitInfo, ...]:
        return tuple(self._units[c] for c in self._children[code])

    def descendants(self, code: str) -> tuple[UnitInfo, ...]:
        """Every unit below ``code`` (not ``code`` itself), parents before children."""
        if code not in self._units:
            raise KeyError(code)
        out: list[UnitInfo] = []
        stack = list(reversed(self._children[code]))
        while stack:
            current = stack.pop()
            out.append(self._units[current])
            stack.extend(reversed(self._children[current]))
        return tuple(out)

    def ancestors(self, code: str) -> tuple[UnitInfo, ...]:
        """The units above ``code``, nearest first."""
        out: list[UnitInfo] = []
        parent = self._units[code].parent_code
        while parent is not None:
            out.append(self._units[parent])
            parent = self._units[parent].parent_code
        return tuple(out)

    # -- matching
    def resolve_whole(self, text: str | None) -> ResolveResult:
        """Tier 1 of :meth:`resolve` alone: the whole text is a unit's name, short name, alias or
        code ("phường Láng", "xa Soc Son"), nothing more. A description that is only this is
        a place, not what happened."""
        query = _Form.of(text or "")
        return (self._whole(query) if query.folded else None) or ResolveResult("none")

    def _whole(self, query: _Form) -> ResolveResult | None:
        for accented in query.passes:
            for variant in query.variants():
                hits = {
                    k.unit_code
                    for k in self._keys
                    if any(v.words(accented) == variant.words(accented) for v in k.variants)
                }
                if hits:
                    return self._result(hits)
        return None

    def resolve(self, text: str | None) -> ResolveResult:
        """Match what a citizen typed to a unit (see the module docstring).

        Tried in order, the first tier with a hit decides:
        1. the whole text equals a name, short name, alias or code (prefixes stripped);
        2. names found inside the text; one written after "phường/xã/…" beats a bare mention,
           and a ward beats its province;
        3. the text is the beginning of names (at least three letters): "Hoàng" → Hoàng Mai,
           Hoàng Liệt — always "ambiguous", even with one candidate, because a fragment is a guess
           the citizen should confirm ("Ý bạn là phường Hoàng Mai?").
        Accented text is matched with accents first ("làng" is not "Láng"), then without.
        """
        query = _Form.of(text or "")
        if not query.folded:
            return ResolveResult("none")
        whole = self._whole(query)
        if whole is not None:
            return whole
        hits = self._contained(query, accented=query.has_diacritics)
        if hits:
            return self._result(hits)
        for accented in query.passes:
            hits = self._prefixed(query.variants()[-1], accented=accented)
            if hits:
                return self._result(hits, partial=True)
        return ResolveResult("none")

    def marked(self, text: str | None) -> UnitInfo | None:
        """The one unit ``text`` names after an administrative prefix ("... ở phường Láng ..."),
        or None.

        For long messages whose place the entity extractor missed: the CRF's spans drift with
        each retraining, while "phường Láng" in the text does not. Only prefixed names count, so a
        bare word that happens to be a ward's name ("láng", "mai") never places a case."""
        query = _Form.of(text or "")
        if not query.folded:
            return None
        for accented in ((True, False) if query.has_diacritics else (False,)):
            hits = {unit for unit, _, _, marked in self._occurrences(query, accented=accented)
                    if marked}
            hits = {u for u in hits if not self._below(hits, u)}
            if hits:
                return self._units[next(iter(hits))] if len(hits) == 1 else None
        return None

    def _occurrences(self, query: _Form, *, accented: bool) -> list[tuple[str, int, int, bool]]:
        """Every unit name found inside ``query``: (unit, start, end, after a prefix)."""
        words = query.words(accented)
        found: list[tuple[str, int, int, bool]] = []
        for key in self._keys:
            needle = key.form.words(accented)
            if len("".join(needle)) < 2:
                continue
            for start in _find(words, needle):
                found.append(
                    (key.unit_code, start, start + len(needle), _marked(query.folded, start))
                )
        return found

    def _contained(self, query: _Form, *, accented: bool) -> set:
        found = self._occurrences(query, accented=accented)
        if any(marked for *_, marked in found):
            found = [f for f in found if f[3]]
        # A name inside a longer name that was also found ("mai" inside "hoang mai") is not a hit.
        spans = [(s, e) for _, s, e, _ in found]
        found = [
            f
            for f in found
            if not any(s <= f[1] and f[2] <= e and (s, e) != (f[1], f[2]) for s, e in spans)
        ]
        units = {f[0] for f in found}
        # "phường Láng, Hà Nội": the ward, not also its province.
        return {u for u in units if not self._below(units, u)}

    def _below(self, units: set, code: str) -> tuple[UnitInfo, ...]:
        """The units in ``units`` that lie under ``code`` (so ``code`` is redundant)."""
        return tuple(d for d in self.descendants(code) if d.code in units)

    def _prefixed(self, query: _Form, *, accented: bool) -> set:
        typed = " ".join(query.words(accented))
        if len(typed.replace(" ", "")) < 3:
            return set()
        return {
            k.unit_code for k in self._keys if " ".join(k.form.words(accented)).startswith(typed)
        }

    def _result(self, codes: set, *, partial: bool = False) -> ResolveResult:
        """A partial name is never "one": the citizen confirms even a single candidate."""
        units = tuple(sorted((self._units[c] for c in codes), key=lambda u: self._order[u.code]))
        return ResolveResult("one" if len(units) == 1 and not partial else "ambiguous", units)


# --------------------------------------------------------------------------- loading


def _fail(path: Path, where: str, message: str) -> UnitsFileError:
    return UnitsFileError(f"{path}: {where}: {message}")


def _str_map(path: Path, where: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, where, "must be a mapping")
    return {str(k): ("" if v is None else v) for k, v in value.items()}


def _parse_unit(path: Path, raw: Any, where: str, parent: str | None, out: list[UnitInfo]) -> None:
    if not isinstance(raw, dict):
        raise _fail(path, where, "each unit must be a mapping")
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise _fail(
            path, where, f"'code' must be lower-case ASCII letters, digits or _, got {code!r}"
        )
    if any(u.code == code for u in out):
        raise _fail(path, where, f"duplicate unit code {code!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(path, f"{where} ({code})", "'name' is required")
    short_name = raw.get("short_name") or name
    aliases = raw.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, (str, int)) for a in aliases):
        raise _fail(path, f"{where} ({code})", "'aliases' must be a list of strings")
    level = raw.get("level") or ("province" if parent is None else "commune")
    chat_id = raw.get("telegram_chat_id")
    if chat_id is not None and (isinstance(chat_id, bool) or not isinstance(chat_id, int)):
        raise _fail(path, f"{where} ({code})", "'telegram_chat_id' must be an integer")
    out.append(
        UnitInfo(
            code=code,
            name=name.strip(),
            short_name=str(short_name).strip(),
            level=str(level),
            parent_code=parent,
            aliases=tuple(str(a) for a in aliases),
            contact={
                k: str(v) for k, v in _str_map(path, f"{where}.contact", raw.get("contact")).items()
            },
            donation=_str_map(path, f"{where}.donation", raw.get("donation")),
            telegram_chat_id=chat_id,
        )
    )
    children = raw.get("children") or []
    if not isinstance(children, list):
        raise _fail(path, f"{where} ({code})", "'children' must be a list")
    for i, child in enumerate(children):
        _parse_unit(path, child, f"{where}.children[{i}]", code, out)


def load_units(path: str | Path | None = None) -> UnitTree:
    """Read the unit tree from ``path`` (default: ``get_settings().units_file``).

    Raises :class:`UnitsFileError` naming the file and the offending unit on any problem.
    """
    if path is None:
        from bot.settings import get_settings

        path = get_settings().units_file
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UnitsFileError(f"{path}: cannot read units file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise UnitsFileError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("units"), list) or not data["units"]:
        raise UnitsFileError(f"{path}: expected a mapping with a non-empty 'units' list")
    units: list[UnitInfo] = []
    for i, raw in enumerate(data["units"]):
        _parse_unit(path, raw, f"units[{i}]", None, units)
    roots = [u.code for u in units if u.parent_code is None]
    if len(roots) != 1:
        raise UnitsFileError(
            f"{path}: expected exactly one top-level unit (the province), found {roots}"
        )
    return UnitTree(units, source=path, sample=bool(data.get("sample", False)))
