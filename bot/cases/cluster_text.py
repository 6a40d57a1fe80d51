"""Reading a case's text into a :class:`~bot.cases.clusters.CaseSignature` (issue 15): tokens
with their capitals, place words and the names or numbers after them, problem phrases, and the
remaining words as weighted folded syllables and syllable pairs. See :mod:`bot.cases.clusters`
for what the signature is for; the words themselves are in :mod:`bot.cases.cluster_words`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.cases.cluster_words import (
    ACCENTED_FORM,
    AMBIGUOUS_FOLDED,
    BY_FIRST_ACCENTED,
    BY_FIRST_FOLDED,
    GLUED_ONLY,
    LOCATION_STOP,
    LOWERCASE_NAME_KINDS,
    MARKERS,
    MAX_MARKER,
    NAME_STOP,
    NOT_NAMES,
    NOT_NAMES_ACCENTED,
    NOT_STREET_BEFORE,
    SOFT_KINDS,
    STOP_ACCENTED,
    STOP_FOLDED,
    STRONG_KINDS,
    TITLES,
    WEAK,
)
from bot.cases.clusters import MAX_TERMS, CaseSignature, Place
from bot.vietnamese.normalize import normalize, strip_diacritics

__all__ = ["read_signature"]

#: Weight of a problem kind against 1.0 for a word.
CONCEPT_WEIGHT = 2.5
#: Weight of a pair of neighbouring words (a stand-in for a two-syllable word) against 1.0.
BIGRAM_WEIGHT = 1.0
_TOKEN_RE = re.compile(r"[A-Za-z]{1,3}\d{1,3}(?:/\d+)*[A-Za-z]?(?!\w)|\d+(?:[a-zA-Z](?![^\W\d_]))?(?:/\d+(?:[a-zA-Z](?![^\W\d_]))?)*|[^\W\d_]+")
_SENTENCE_END = re.compile(r"[.!?\n:;]\s*$")


@dataclass(frozen=True)
class _Tok:
    acc: str  # lower-case, accented as typed
    fold: str  # lower-case, folded
    cap: bool  # typed with a capital, not at a sentence start
    num: bool
    code: bool  # a letter-digit code: B2, CT1, A3
    acronym: bool = False  # BHYT, KTT


_BOUNDARY = _Tok("|", "|", False, False, False)


def _tokens(text: str, *, place_line: bool = False) -> list[_Tok]:
    """Tokens with their capitalisation as a hint of names: a capital at a sentence start says
    nothing, unless the next word has one too ("Kiêu Kỵ có bãi rác…"); in the typed location
    (``place_line``) every capital counts."""
    out: list[_Tok] = []
    starts: list[int] = []  # indices of capitalised sentence-initial tokens
    for m in _TOKEN_RE.finditer(text):
        word = m.group(0)
        before = text[: m.start()]
        sentence_start = not place_line and (
            not before.strip() or bool(_SENTENCE_END.search(before)))
        acc = word.lower()
        cap = word[0].isupper() and not sentence_start
        if sentence_start and word[0].isupper() and word[0].isalpha():
            starts.append(len(out))
        if word[0].isalpha() and word[-1].isdigit() or (word[0].isalpha() and any(
                c.isdigit() for c in word)):
            letters = re.match(r"[a-z]+", acc)
            head = letters.group(0) if letters else ""
            head = GLUED_ONLY.get(head, head)  # "K54": kiệt 54
            if (head,) in MARKERS and re.fullmatch(
                    r"\d+(?:/\d+)*", acc[len(letters.group(0)) if letters else 0:]):
                # "tdp12", "ngo5": a place word glued to its number
                out.append(_Tok(head, head, cap, False, False))
                num = acc[len(letters.group(0)) if letters else 0:]
                out.append(_Tok(num, num, False, True, False))
                continue
            out.append(_Tok(acc, acc, cap, False, True))  # a code: B2, CT1, A3
            continue
        out.append(_Tok(acc, strip_diacritics(acc), cap, word[0].isdigit(), False,
                        len(word) > 1 and word.isupper()))
    for i in starts:
        if i + 1 < len(out) and out[i + 1].cap and not out[i + 1].acronym:
            t = out[i]
            out[i] = _Tok(t.acc, t.fold, True, t.num, t.code, t.acronym)
    return out


def _is_name_tok(tok: _Tok, lowercase_ok: bool, stop: frozenset[str] | set[str] = NAME_STOP) -> bool:
    if tok.num or tok.code:
        return False
    if tok.cap:
        return True
    return lowercase_ok and tok.fold not in stop and len(tok.fold) > 1


def _match_marker(toks: Sequence[_Tok], i: int, accented: bool) -> tuple[int, str, str] | None:
    """The longest place word starting at ``toks[i]``: (length, kind, what may follow)."""
    for n in range(min(MAX_MARKER, len(toks) - i), 0, -1):
        words = tuple(t.fold for t in toks[i : i + n])
        hit = MARKERS.get(words)
        if hit is None:
            continue
        if n == 1 and words[0] in AMBIGUOUS_FOLDED:
            # A folded everyday word is a place word only with its accent typed, or before a
            # number / a capitalised name.
            want = ACCENTED_FORM.get(words[0])
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            typed_ok = want is not None and accented and toks[i].acc == want
            if words[0] == "ngo" and (typed_ok or not accented or toks[i].acc == "ngo"):
                typed_ok = True
            if nxt is None or not (nxt.num or nxt.cap or (typed_ok and "name" in hit[1])
                                   or ("code" in hit[1] and nxt.code)):
                continue
            if accented and want is not None and toks[i].acc != want and not (
                    words[0] == "ngo" and toks[i].acc == "ngo"):
                continue  # "cho 5 hộ" is not "chợ"
        return n, hit[0], hit[1]
    return None


def _read_name(toks: Sequence[_Tok], j: int, lowercase_ok: bool, limit: int = 4,
               blocked: frozenset[int] | set[int] = frozenset(), loc_start: int | None = None,
               ) -> tuple[str, int]:
    """A name starting at ``toks[j]``: a run of capitalised words, or (``lowercase_ok``) of
    words that are neither function words nor part of a problem phrase. In the typed location
    (from ``loc_start`` on) a lowercase name ends only at a connecting word (:data:`LOCATION_STOP`):
    there "ngo 12 chua lang" is alley 12 of Chùa Láng, not "chưa"."""
    in_location = loc_start is not None and j >= loc_start
    words: list[str] = []
    k = j
    cap_run = j < len(toks) and toks[j].cap
    while k < len(toks) and len(words) < limit:
        t = toks[k]
        hit = _match_marker(toks, k, True)
        if hit is not None and (not cap_run or hit[1] in STRONG_KINDS):
            break  # "Hoàng Cầu", "Vĩnh Hồ": a capitalised site word inside a name
        if cap_run:
            if not t.cap:
                break
        elif k in blocked or not _is_name_tok(
                t, lowercase_ok, LOCATION_STOP if in_location else NAME_STOP):
            break
        words.append(t.fold)
        k += 1
    return " ".join(words), k


def _places(toks: list[_Tok], accented: bool, blocked: set[int],
            loc_start: int | None = None) -> tuple[list[Place], set[int]]:
    """Places after place words; from ``loc_start`` on (the typed location, which is all place)
    names may be lowercase and a leading number is a house number ("45 ngoc lam")."""
    places: list[Place] = []
    used: set[int] = set()
    i = 0
    while i < len(toks):
        hit = _match_marker(toks, i, accented)
        if hit is None:
            tok = toks[i]
            if tok.code:  # "A1", "B2", "CT1" alone: a block of flats
                places.append(Place("site:building", tok.fold))
                used.add(i)
            elif tok.num and "/" not in tok.fold and i + 1 < len(toks) and (
                    (i > 0 and toks[i - 1].fold in ("o", "tai")
                     and (toks[i + 1].cap or not accented))
                    or i == loc_start
                    or (i + 2 < len(toks) and toks[i + 1].cap and toks[i + 2].cap)):
                # "ở 25 Minh Khai", "công trình 20 Trung Kính", a location "45 ngoc lam": a house
                # number and its street without "số"
                street, j = _read_name(toks, i + 1, not accented or i == loc_start, limit=3,
                                       blocked=blocked, loc_start=loc_start)
                if len(street.split()) >= 2 or (street and toks[i + 1].cap):
                    places += [Place("house", tok.fold, street), Place("street", street)]
                    used.update(range(i, j))
                    i = j
                    continue
            i += 1
            continue
        n, kind, follows = hit
        j = i + n
        if j < len(toks) and toks[j].fold == "so":
            j += 1
        value = ""
        if j < len(toks) and toks[j].num and "num" in follows:
            value = toks[j].fold
            j += 1
            if kind == "alley" and j + 1 < len(toks) and toks[j].fold == "ngach" and toks[j + 1].num:
                value = f"{value}/{toks[j + 1].fold}"
                j += 2
        elif j < len(toks) and toks[j].code and "code" in follows:
            value = toks[j].fold
            j += 1
        elif "name" in follows and j < len(toks):
            prev = toks[i - 1].fold if i > 0 else ""
            lowercase_ok = (kind in LOWERCASE_NAME_KINDS and (kind == "street" or not accented)
                            and (kind != "street" or prev not in NOT_STREET_BEFORE))
            if j < len(toks) - 1 and toks[j].fold == "thuoc" and toks[j + 1].cap:
                j += 1  # "đường liên thôn thuộc Uy Nỗ"
            if kind == "street" and n == 1 and toks[i].fold == "duong" and not toks[j].cap:
                lowercase_ok = lowercase_ok and i > 0 and (toks[i - 1].num or toks[i - 1].fold in (
                    "tuyen", "o", "tai", "duong", "pho") or prev in {"so"})
            if loc_start is not None and i >= loc_start and kind != "ward":
                lowercase_ok = True  # the location line: "đường láng", "duong lang doan cau lang"
            value, j = _read_name(toks, j, lowercase_ok, limit=4 if kind == "street" else 2,
                                  blocked=blocked, loc_start=loc_start)
        if not value:
            i += 1
            continue
        qualifier = ""
        if kind in ("alley", "group", "house", "area", "hamlet", "village") and j < len(toks):
            k = j
            if toks[k].fold in ("pho", "duong") and k + 1 < len(toks):
                k += 1
                qualifier, k2 = _read_name(toks, k, True, blocked=blocked, loc_start=loc_start)
            else:
                qualifier, k2 = _read_name(toks, k, True, limit=3, blocked=blocked,
                                           loc_start=loc_start)
            if qualifier:
                if kind in ("alley", "house"):
                    places.append(Place("street", qualifier))
                used.update(range(j, k2))
                j = k2
        places.append(Place(kind, value, qualifier))
        used.update(range(i, j))
        i = j
    return places, used


def _bare_location(toks: list[_Tok], used: set[int], covered: set[int]) -> list[Place]:
    """The typed location is a place even without a place word: "Trung Kính", "xa dan" name the
    street (or village) the citizen means. Read as a street when the line starts with no place
    word and no number (its leading words up to a function word; "Xã" there is part of the
    name, "Xã Đàn"), so it meets "phố Trung Kính" / "đường Xã Đàn" of other cases."""
    start = toks.index(_BOUNDARY) + 1
    if start >= len(toks) or any(t.num or t.code for t in toks[start:]):
        return []
    hit = _match_marker(toks, start, True)
    if hit is not None and (hit[1] not in SOFT_KINDS or toks[start].fold != "xa"):
        return []  # "ngõ 5 …", "phố …": the place grammar read it; "phường Láng": the unit
    words: list[str] = []
    k = start
    while k < len(toks) and len(words) < 4:
        t = toks[k]
        if t.num or t.code or k in covered or t.fold in LOCATION_STOP or (
                words and _match_marker(toks, k, True) is not None):
            break
        words.append(t.fold)
        k += 1
    if not words or (len(words) == 1 and len(words[0]) < 3):
        return []
    used.update(range(start, k))
    return [Place("street", " ".join(words))]


def _concepts(toks: Sequence[_Tok], accented: bool) -> tuple[list[str], set[int]]:
    """Problem kinds named in the text, and the tokens naming them. Text typed with diacritics
    is matched accented ("công tác" is not "cống tắc"); text without, folded — single syllables
    only when folding leaves them unambiguous (``ngap`` yes, ``den`` — đèn/đến — no)."""
    found: dict[str, None] = {}
    covered: set[int] = set()
    seq = [t.acc for t in toks] if accented else [t.fold for t in toks]
    index = BY_FIRST_ACCENTED if accented else BY_FIRST_FOLDED
    hits: list[tuple[int, int, str]] = []
    for s, word in enumerate(seq):
        for concept, target in index.get(word, ()):
            n = len(target)
            if tuple(seq[s : s + n]) == target and not any(
                    t.cap and not t.acronym for t in toks[s : s + n]):  # "Dịch Vọng"
                hits.append((s, n, concept))
    # A syllable inside a longer phrase names that phrase's problem only ("hố" in "hố ga").
    long_spans = [(s, s + n, c) for s, n, c in hits if n > 1]
    for s, n, concept in hits:
        if n == 1 and any(a <= s < b and c != concept for a, b, c in long_spans):
            continue
        found[concept] = None
        covered.update(range(s, s + n))
    return sorted(found), covered


def _merged(places: list[Place]) -> tuple[Place, ...]:
    """The places without repeats, and without a bare "tổ 8" when the case also says "tổ 8 Bồ
    Đề" (read once from the text and once from the location): the bare one would agree with
    "tổ 8 Thạch Bàn" too."""
    qualified = {(p.kind, p.value) for p in places if p.qualifier}
    return tuple(dict.fromkeys(
        p for p in places if p.qualifier or (p.kind, p.value) not in qualified))


def read_signature(text: str, category: str | None = None, unit_code: str | None = None,
              *, location: str | None = None) -> CaseSignature:
    """The signature of a case's text (and its typed location). ``unit_code`` is accepted for
    the callers' convenience: candidates are always of one unit, so it is not part of it."""
    del unit_code
    # teencode=False: "ng." is ngõ here, not người
    toks = _tokens(normalize(text or "", teencode=False).text)
    if location:  # a boundary no name or place word reads across
        toks += [_BOUNDARY, *_tokens(normalize(location, teencode=False).text, place_line=True)]
    # Typed with diacritics or not: judged on the text, the location line being too short (and
    # often typed otherwise: "dg Lang ngap" with a location "đg Láng").
    text_toks = toks[: toks.index(_BOUNDARY)] if location else toks
    words = [t for t in text_toks if not t.num and not t.code] or [
        t for t in toks if not t.num and not t.code]
    accented = sum(t.acc != t.fold for t in words) >= max(1, 0.2 * len(words))
    letters = [t for t in toks if not t.num]
    if letters and sum(t.cap for t in letters) > 0.6 * len(letters):  # SHOUTING: no name info
        toks = [_Tok(t.acc, t.fold, False, t.num, t.code, t.acronym) for t in toks]
    concepts, covered = _concepts(toks, accented)
    loc_start = toks.index(_BOUNDARY) + 1 if location else None
    places, used = _places(toks, accented, covered, loc_start)
    if location:
        places += _bare_location(toks, used, covered)
    names: dict[str, None] = {}
    i = 0
    while i < len(toks):
        if i not in used and toks[i].cap:
            name, j = _read_name(toks, i, False)
            if name:
                person = i > 0 and toks[i - 1].fold in TITLES
                first = toks[i]
                institution = first.acc in NOT_NAMES_ACCENTED or (
                    first.acc == first.fold and first.fold in NOT_NAMES)
                if not person and not institution:
                    names[name] = None
                used.update(range(i, j))  # a person's name is neither a place nor a term
                i = j
                continue
        i += 1
    terms: dict[str, float] = {}
    content: list[str | None] = []
    for idx, t in enumerate(toks):
        # Typed with diacritics, a word is a function word only as typed ("hải" is not "hai").
        stop = t.acc in STOP_ACCENTED if accented and t.acc != t.fold else t.fold in STOP_FOLDED
        if idx in used or t.num or stop or len(t.fold) < 2 and not t.code:
            content.append(None)
        else:
            content.append(t.fold)
    for idx, w in enumerate(content):
        if w is None:
            continue
        weight = 0.3 if w in WEAK else 1.0
        terms[w] = terms.get(w, 0.0) + weight
        nxt = content[idx + 1] if idx + 1 < len(content) else None
        if nxt is not None:
            terms[f"{w}_{nxt}"] = terms.get(f"{w}_{nxt}", 0.0) + BIGRAM_WEIGHT
    for w in list(terms):
        terms[w] = 1.0 + math.log(terms[w]) if terms[w] >= 1 else terms[w]
    for c in concepts:
        terms[f"#{c}"] = CONCEPT_WEIGHT
    if len(terms) > MAX_TERMS:
        terms = dict(sorted(terms.items(), key=lambda kv: -kv[1])[:MAX_TERMS])
    norm2 = math.sqrt(sum(v * v for v in terms.values())) or 1.0
    return CaseSignature(
        category=category,
        places=_merged(places),
        names=tuple(names),
        concepts=tuple(sorted(concepts)),
        terms={k: v / norm2 for k, v in terms.items()},
    )
