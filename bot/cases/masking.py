"""Citizens' words shown to people who need the matter, not the person: the digest's quotes
(issue 15) and the questions the assistant could not answer (for trainers).

Phone numbers go (the log scrubber's pattern, :func:`bot.observability.logs.mask_phones`), and so
do names: the case's own ``person_name`` wherever it appears, a name a citizen introduces
themselves with ("tôi là …", "tên em là …", "họ tên: …") and a capitalised name after a form of
address ("ông Trần Văn B", "chị Hoa"). The patterns run on the folded text (no diacritics, lower
case), which has the same length as the NFC text, so the spans found there are cut out of the
original; the capitalisation test reads the original. Over-masking (a street called "Bà Triệu")
is the accepted cost: a quote loses a word rather than exposing someone.
"""

from __future__ import annotations

import re
import unicodedata

from bot.vietnamese.normalize import strip_diacritics

__all__ = ["NAME_MASK", "PHONE_MASK", "mask_identity"]

#: What stands in for a masked name / phone number in a quote.
NAME_MASK = "[…]"
PHONE_MASK = "[SĐT]"

#: A self-introduction, folded: what follows is a name whatever its capitalisation.
_SELF = re.compile(
    r"\b(?:ten\s+(?:toi|em|minh|chau|con|tui)\s+la|(?:toi|em|minh|chau|con|tui)\s+ten(?:\s+la)?"
    r"|(?:toi|em|minh|chau|con|tui)\s+la|ho\s+(?:va\s+)?ten(?:\s+la)?|ten\s+la)\s*[:\-]?\s*"
)
#: Forms of address, folded: a capitalised name may follow.
_ADDRESS = re.compile(r"\b(?:ong|ba|anh|chi|co|chu|bac|em|chau|cu|thim|di|duong|gia dinh)\s+")
#: The same words as written with their marks: in a text typed with diacritics, "Chí" (as in
#: Nguyễn Chí Thanh) is not "chị", nor "Bà" in "Bà Triệu"… (that one is, and is masked).
_ADDRESS_ACCENTED = frozenset("ông bà anh chị cô chú bác em cháu cụ thím dì dượng gia".split())
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
#: Folded words that end a lower-case name ("ten em la hoa sdt ..."): what usually follows one.
_AFTER_NAME = frozenset(
    "sdt dt so o nha dia chi tai va thuoc phuong xa to ngo muon xin can hoi bao phan anh "
    "kien nghi de la dang song cu tru".split()
)


def _name_end(original: str, start: int, *, capitalised_only: bool, limit: int = 4) -> int:
    """Where a name starting at ``start`` ends: up to ``limit`` words (capitalised ones only
    when asked), separated by single spaces."""
    end = start
    pos = start
    for _ in range(limit):
        match = _WORD.match(original, pos)
        if match is None:
            break
        word = match.group(0)
        if not word[:1].isupper() and (
            capitalised_only or strip_diacritics(word).lower() in _AFTER_NAME
        ):
            break
        end = match.end()
        if end < len(original) and original[end] == " ":
            pos = end + 1
        else:
            break
    return end


def _capitalised_runs(text: str) -> list[tuple[int, int]]:
    """Spans of two or more capitalised words separated by spaces ("Nguyễn Văn An")."""
    runs: list[tuple[int, int]] = []
    current: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        joined = bool(current) and text[current[-1][1] : match.start()].isspace()
        if match.group(0)[:1].isupper():
            if not joined:
                current = []
            current.append((match.start(), match.end()))
            if len(current) == 2:
                runs.append((current[0][0], current[-1][1]))
            elif len(current) > 2:
                runs[-1] = (current[0][0], current[-1][1])
        else:
            current = []
    return runs


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans joined, last first (so cutting one leaves the others' offsets)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out[::-1]


def mask_identity(text: str | None, person_name: str | None = None, *, strict: bool = False) -> str:
    """``text`` with phone numbers and names masked (see the module docstring). ``strict``
    also masks every run of two or more capitalised words, places included: for words kept
    with no case around them (a question the assistant did not understand may be a bare name
    typed into the wrong step), where a lost place costs nothing."""
    from bot.observability.logs import PHONE_MASK as LOG_PHONE_MASK
    from bot.observability.logs import mask_phones

    if not text:
        return ""
    original = unicodedata.normalize("NFC", text)
    original = mask_phones(original).replace(LOG_PHONE_MASK, PHONE_MASK)
    if person_name and len(person_name.strip()) >= 2:
        original = re.sub(
            re.escape(unicodedata.normalize("NFC", person_name.strip())),
            NAME_MASK,
            original,
            flags=re.IGNORECASE,
        )
    folded = strip_diacritics(original).lower()
    if len(folded) != len(original):  # a decomposed letter survived NFC: mask on the folded text
        original, folded = folded, folded
    spans: list[tuple[int, int]] = []
    for match in _SELF.finditer(folded):
        end = _name_end(original, match.end(), capitalised_only=False)
        if end > match.end():
            spans.append((match.end(), end))
    accented = folded != original.lower()
    for match in _ADDRESS.finditer(folded):
        first = original[match.start() : match.end()].split()[0].lower()
        if accented and first not in _ADDRESS_ACCENTED:
            continue
        end = _name_end(original, match.end(), capitalised_only=True)
        if end > match.end():
            spans.append((match.end(), end))
    if strict:
        spans += _capitalised_runs(original)
    for start, end in _merged(spans):
        if original[start:end].startswith(NAME_MASK):
            continue
        original = original[:start] + NAME_MASK + original[end:]
    return original
