"""Same-issue detection (issue 15): does a new case report the same problem at the same place as
an open case of its unit?

A case becomes a :class:`CaseSignature`, small enough to store as JSON on the case row:

* **places** — what the citizen wrote after a place word: ``ngõ/ngách/hẻm/kiệt`` + number
  (``ngõ 5/12`` is alley 5, lane 12), ``tổ dân phố/TDP/tổ`` + number, ``khu phố/khu/cụm``,
  ``thôn/làng/ấp/bản``, ``xóm/đội``, ``số nhà/số`` + number, ``phố/đường`` + street name, and
  sites (``chợ``, ``trường``, ``chung cư``, ``tòa``, ``khu tập thể``, ``khu đô thị``, ``công
  viên``, ``nhà văn hóa``). A name right after a number (``ngõ 5 Láng Hạ``, ``TDP 12 Tân Mai``)
  qualifies it. Capitalised words elsewhere (``Tân Mai``) are kept as soft *names*.
* **concepts** — the problem in a few dozen kinds (flooding, street lights, rubbish, noise…) from
  a phrase list, so ``ngập`` and ``úng``, ``đèn đường`` and ``chiếu sáng`` meet;
* **terms** — the remaining words as folded syllables and syllable pairs (a stand-in for
  underthesea's words that also works on text typed without diacritics), weighted, unit length.

Everything is matched on folded text (no case, no diacritics), with the accented form used where
folding makes words ambiguous (``làng``/``Láng``, ``hồ``/``hộ``, ``chợ``/``cho``).

:func:`score` gates the text similarity by the places: two explicit places of the same kind that
differ (``ngõ 5`` / ``ngõ 7``, ``TDP 12 Tân Mai`` / ``TDP 12 Tương Mai``) never match however alike
the complaints are; a shared place lets a moderate similarity through; cases without a place
need a closer text (:data:`NO_PLACES`), and a place on only one side
(:data:`ONE_SIDED`) nearly as close. :func:`best_match` picks the
best candidate above :data:`THRESHOLD`.

Candidates come from the database by :meth:`CaseSignature.keys` / :meth:`CaseSignature.probe_keys`
(see :mod:`bot.cases.linking`): a case with places is only compared with cases sharing a place
key or with place-less cases of the same problem, so the cost of a link does not grow with the
unit's open cases.

No underthesea here: services import no NLP framework (ARCHITECTURE.md, rule 2), and folded
syllable pairs do what its word segmentation would for matching, also on unaccented text.

Three modules: this one (the signature and the matching), :mod:`bot.cases.cluster_text` (reading
a text into a signature) and :mod:`bot.cases.cluster_words` (the phrase and place-word lists).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from bot.cases.cluster_words import FAMILIES, SOFT_KINDS

__all__ = [
    "THRESHOLD",
    "CaseSignature",
    "Place",
    "best_match",
    "place_relation",
    "score",
    "signature",
]

#: Version of the signature format; a stored signature of another version is recomputed.
VERSION = 1
#: A candidate matches when :func:`score` reaches this. 0.22 with places read more fully (the
#: location line, "đg", "K54"…); :data:`NO_PLACES` moved with it, so place-less cases need the
#: same closeness of text as at 0.25.
THRESHOLD = 0.22
#: Terms kept per signature (the heaviest).
MAX_TERMS = 48

# --------------------------------------------------------------------------- signature


@dataclass(frozen=True)
class Place:
    """One explicit place: ``kind`` (alley, group, street, …), ``value`` (a number such as
    ``5`` or ``5/12``, or a folded name), ``qualifier`` (the name right after it, folded)."""

    kind: str
    value: str
    qualifier: str = ""

    @property
    def key(self) -> str:
        """Look-up key: the alley/house number without its lane, a name's first word (names
        match by their beginning, so "linh" finds "linh nam")."""
        value = self.value.split("/")[0] if self.value[:1].isdigit() else self.value.split()[0]
        return f"{self.kind}:{value}"

    def compatible(self, other: Place) -> bool:
        if self.kind != other.kind:
            return False
        if not _values_compatible(self.value, other.value):
            return False
        return not self.qualifier or not other.qualifier or _names_compatible(
            self.qualifier, other.qualifier)


def _values_compatible(a: str, b: str) -> bool:
    if a == b:
        return True
    if "/" in a or "/" in b:  # 5 ~ 5/12 (the alley and a lane in it), 5/12 !~ 5/14
        pa, pb = a.split("/"), b.split("/")
        n = min(len(pa), len(pb))
        return pa[:n] == pb[:n]
    return _names_compatible(a, b) if not (a[:1].isdigit() or b[:1].isdigit()) else False


def _names_compatible(a: str, b: str) -> bool:
    """Folded names agree when one is the other's beginning ("lang ha" ~ "lang ha moi")."""
    wa, wb = a.split(), b.split()
    n = min(len(wa), len(wb))
    if wa[:n] == wb[:n]:
        # "Định Công" and "Định Công Hạ", "Láng" and "Láng Hạ": a quarter word after the name
        # makes it another place, whereas a name merely cut short ("ngoc" for "ngoc lam") agrees
        longer = wa if len(wa) > len(wb) else wb
        return len(wa) == len(wb) or n < 2 or longer[n] not in QUARTER_WORDS
    if len(wa) == len(wb) > 1 and all(x == y or (min(len(x), len(y)) == 1 and x[0] == y[0])
                                      for x, y in zip(wa, wb, strict=True)) and any(
            x == y for x, y in zip(wa, wb, strict=True)):
        return True  # "X.Đàn" for "Xã Đàn": a syllable cut to its first letter
    # "NCT" for "Nguyễn Chí Thanh" (or for a name cut short: "nguyen")
    for x, y in ((wa, wb), (wb, wa)):
        if len(x) == 1 and _initials(x[0]) and (
                x[0] == "".join(w[0] for w in y) or (len(y) == 1 and y[0][0] == x[0][0])):
            return True
    return False


#: Words that, after a place name, name another place: its upper/lower/east… part.
QUARTER_WORDS = frozenset({"ha", "thuong", "dong", "tay", "nam", "bac", "trung", "ngoai", "trong"})


def _initials(word: str) -> bool:
    """"nct", "hbt": two to four letters and no vowel, so not a Vietnamese syllable."""
    return 2 <= len(word) <= 4 and word.isalpha() and not any(c in "aeiouy" for c in word)


@dataclass(frozen=True)
class CaseSignature:
    """What :func:`score` compares; :meth:`to_json` / :meth:`from_json` for the ``signature``
    column."""

    category: str | None
    places: tuple[Place, ...] = ()
    names: tuple[str, ...] = ()  # capitalised words not after a place word (soft places)
    concepts: tuple[str, ...] = ()
    terms: dict[str, float] = field(default_factory=dict)  # unit length
    version: int = VERSION

    @cached_property
    def hard_places(self) -> tuple[Place, ...]:
        return tuple(p for p in self.places if p.kind not in SOFT_KINDS)

    @cached_property
    def word_norm(self) -> float:
        """Length of the term vector without the problem kinds (see :func:`text_similarity`)."""
        return math.sqrt(sum(v * v for k, v in self.terms.items() if k[0] != "#"))

    def _place_keys(self) -> tuple[list[str], list[str]]:
        """(stored, probed) place keys: finer places (alley, house, group, site…: ``alley:5``)
        both ways; a street as ``street:<first word>`` when nothing finer is named, else as
        ``street+:<first word>`` — so a case about a whole street finds every case on it, while
        a case in an alley reads the street's street-only cases, not every alley of it."""
        fine = sorted({p.key for p in self.hard_places if p.kind != "street"})
        # a named area, village or site is also keyed as a street of that name: "khu Bạch Đằng",
        # "thôn Uy Nỗ", "chung cư Rice City" and a location line "Uy Nỗ" / "Rice City" (read as
        # a street) find each other
        streets = sorted({Place("street", p.value).key for p in self.hard_places
                          if p.kind == "street" or (
                              (p.kind in NAMED_AREAS or p.kind.startswith("site:"))
                              and not p.value[:1].isdigit() and " " in p.value)})
        if not fine:
            return streets, streets + [k.replace("street:", "street+:", 1) for k in streets]
        return fine + [k.replace("street:", "street+:", 1) for k in streets], fine + streets

    def _problems(self, *, with_category: bool) -> list[str]:
        """The problem kinds; the category too when asked, or when no kind was recognised."""
        category = f"cat:{self.category or '-'}"
        if with_category or not self.concepts:
            return [*self.concepts, category]
        return list(self.concepts)

    def keys(self) -> list[str]:
        """Index keys stored for this case. With a place: ``<place>|<problem>`` for each place
        (see :meth:`_place_keys`) and each problem kind and the category (``alley:5|flood``,
        ``alley:5|cat:ha_tang``), and ``+:<problem>``; without: ``-:<problem>`` (problem kinds,
        or the category when none was recognised)."""
        stored, _ = self._place_keys()
        loose = self._problems(with_category=False)
        if not stored:
            return [f"-:{c}" for c in loose]
        problems = self._problems(with_category=True)
        return [f"{p}|{c}" for p in stored for c in problems] + [f"+:{c}" for c in loose]

    def lookup(self) -> list[str]:
        """The keys to find candidates by: same place and same problem kind or category, or no
        place and the same problem; without a place, the same problem with or without one."""
        _, probed = self._place_keys()
        loose = self._problems(with_category=False)
        if not probed:
            return [f"+:{c}" for c in loose] + [f"-:{c}" for c in loose]
        problems = self._problems(with_category=True)
        return [f"{p}|{c}" for p in probed for c in problems] + [f"-:{c}" for c in loose]

    def topics(self) -> list[str]:
        """What the digest counts (``cases.topic_terms``): the problem kinds as ``#kind`` and
        the word pairs (``nuoc_ngap``) — a short list, so a period's counts read little."""
        return [f"#{c}" for c in self.concepts] + [
            t for t in self.terms if "_" in t and not t.startswith("#")]

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.version,
            "cat": self.category,
            "places": [[p.kind, p.value, p.qualifier] for p in self.places],
            "names": list(self.names),
            "concepts": list(self.concepts),
            "terms": {k: round(v, 4) for k, v in self.terms.items()},
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> CaseSignature:
        if isinstance(data, str):
            data = json.loads(data)
        assert isinstance(data, dict)
        return cls(
            category=data.get("cat"),
            places=tuple(Place(*p) for p in data.get("places", ())),
            names=tuple(data.get("names", ())),
            concepts=tuple(data.get("concepts", ())),
            terms={str(k): float(v) for k, v in (data.get("terms") or {}).items()},
            version=int(data.get("v", 0)),
        )



def signature(text: str, category: str | None = None, unit_code: str | None = None,
              *, location: str | None = None) -> CaseSignature:
    """The signature of a case's text and typed location (:mod:`bot.cases.cluster_text`).
    ``unit_code`` is accepted for the callers' convenience: candidates are always of one unit."""
    from bot.cases.cluster_text import read_signature  # it builds the types of this module

    return read_signature(text, category, unit_code, location=location)


#: Kinds whose name (two syllables or more) may be what another case calls a street (see
#: :meth:`CaseSignature.keys`); sites too.
NAMED_AREAS = frozenset({"area", "village", "hamlet"})

#: Share of the problem kinds in common (Jaccard) in the similarity of two placed cases; the
#: rest is the cosine of their words.
CONCEPT_SHARE = 0.6

# --------------------------------------------------------------------------- matching

#: Multipliers of the text similarity by how the places relate.
SHARED_PLACE = 1.0  # an explicit place in common, none in conflict
SHARED_NAME = 0.85  # only a capitalised name in common
NO_PLACES = 0.53  # neither says where
UNRELATED_PLACES = 0.55  # both say where, in words that neither agree nor disagree
ONE_SIDED = 0.60  # only one says where
#: Multiplier when both name problem kinds and they have none in common.
OTHER_PROBLEM = 0.35
#: Multiplier when both give a house number and they differ (same alley, another house) for a
#: problem of the whole street; for any other problem two house numbers are two places.
OTHER_HOUSE = 0.8
AREA_PROBLEMS = frozenset({"flood", "drain", "smell", "water", "power", "light", "road", "mosquito",
                           "dust", "wires", "traffic"})


def place_relation(a: CaseSignature, b: CaseSignature) -> float:
    """How far the places allow a match: 0 when two explicit places of one kind disagree."""
    pa, pb = a.hard_places, b.hard_places
    shared = False
    other_house = False
    for kind in {p.kind for p in pa} & {p.kind for p in pb}:
        xa = [p for p in pa if p.kind == kind]
        xb = [p for p in pb if p.kind == kind]
        if any(p.compatible(q) for p in xa for q in xb):
            shared = True
        elif len({p.value for p in xa}) > 1 or len({q.value for q in xb}) > 1:
            continue  # "từ ngõ 5 đến ngõ 9": a stretch, not one alley to set against another
        elif kind == "house" and set(a.concepts) | set(b.concepts) <= AREA_PROBLEMS:
            other_house = True  # neighbours at two house numbers of one flooded alley
        else:
            return 0.0
    if shared:
        return SHARED_PLACE * (OTHER_HOUSE if other_house else 1.0)
    if _mentions(a, b) or _mentions(b, a):
        return SHARED_PLACE * (OTHER_HOUSE if other_house else 1.0)
    named = [p.value for p in pa if not p.value[:1].isdigit() and " " in p.value]
    if any(_names_compatible(x, q.value) for x in named for q in pb
           if not q.value[:1].isdigit() and " " in q.value):
        return SHARED_NAME  # "phố Ngọc Lâm" and "chợ Ngọc Lâm"
    names = any(_names_compatible(x, y) for x in a.names for y in b.names) or any(
        _names_compatible(x, p.value) for x, p in (*((n, q) for n in a.names for q in pb),
                                                   *((n, q) for n in b.names for q in pa))
        if not p.value[:1].isdigit() and len(x.split()) >= 2)
    if pa and pb:
        return (SHARED_NAME if names else UNRELATED_PLACES) * (OTHER_HOUSE if other_house else 1.0)
    if names:
        return SHARED_NAME
    if not pa and not pb:
        return NO_PLACES
    return ONE_SIDED


def _mentions(a: CaseSignature, b: CaseSignature) -> bool:
    """``b`` names one of ``a``'s named places (two syllables or more) without a place word:
    "tran thai tong truoc truong…" against "phố Trần Thái Tông"."""
    for p in a.hard_places:
        for name in (p.value, p.qualifier):
            words = name.split()
            if len(words) >= 2 and not name[:1].isdigit() and all(
                    f"{x}_{y}" in b.terms for x, y in zip(words, words[1:], strict=False)):
                return True
    return False


def text_similarity(a: CaseSignature, b: CaseSignature, *, words_only: bool = False) -> float:
    """Cosine of the term vectors; ``words_only`` leaves the problem kinds out (two place-less
    cases about "trợ cấp" must share more than the kind: whose allowance, which list)."""
    small, big = (a.terms, b.terms) if len(a.terms) <= len(b.terms) else (b.terms, a.terms)
    if not words_only:
        return sum(v * big.get(k, 0.0) for k, v in small.items())
    dot = sum(v * big.get(k, 0.0) for k, v in small.items() if k[0] != "#")
    norms = a.word_norm * b.word_norm
    return dot / norms if norms else 0.0


def score(a: CaseSignature, b: CaseSignature) -> float:
    """Same issue, 0..1: the text similarity, scaled by :func:`place_relation` and the problems."""
    relation = place_relation(a, b)
    if relation == 0.0:
        return 0.0
    words = text_similarity(a, b, words_only=True)
    if relation in (NO_PLACES, ONE_SIDED) or not (a.concepts and b.concepts):
        return words * relation
    ca, cb = set(a.concepts), set(b.concepts)
    fa = {FAMILIES.get(c, c) for c in ca} | ca
    fb = {FAMILIES.get(c, c) for c in cb} | cb
    family = len(fa & fb) / len(fa | fb)
    if not family:
        return words * OTHER_PROBLEM * relation
    kinds = (len(ca & cb) / len(ca | cb) + family) / 2
    return (CONCEPT_SHARE * kinds + (1 - CONCEPT_SHARE) * words) * relation


def best_match(sig: CaseSignature, candidates: Iterable[tuple[int, CaseSignature]],
               threshold: float = THRESHOLD) -> tuple[int, float] | None:
    """The candidate id with the highest :func:`score` if it reaches ``threshold``."""
    best: tuple[int, float] | None = None
    for case_id, other in candidates:
        s = score(sig, other)
        if s >= threshold and (best is None or s > best[1]):
            best = (case_id, s)
    return best
