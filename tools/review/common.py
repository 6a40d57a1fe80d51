"""What the export and the merge of `./mttq review` must agree on.

The export masks personal numbers and lists the intents a trainer may write; the merge must
refuse exactly what the export would have masked and accept exactly those intents. Kept in one
place so the two steps cannot drift apart.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import yaml

from bot.settings import ROOT

DOMAIN_PATH = ROOT / "domain.yml"
SKIP = "skip"

#: Vietnamese phone numbers: 0 / 84 / +84 / (+84), then 8-10 digits with at most one space, dot
#: or hyphen between them (0912 345 678, 024.3825.1234, +84 912-345-678, sdt0912345678).
PHONE_RE = re.compile(r"(?<![\d+])(?:\(\+84\)|\+84|84|0)(?:[ .\-]?\d){8,10}(?!\d)")
PHONE_MASK = "0xxxxxxxxx"
#: Any other run of 10+ digits (citizen ID numbers, bank accounts). Reference codes such as
#: ``KN-2611-00421`` have at most 9 digits and stay readable.
LONG_NUMBER_RE = re.compile(r"(?<!\d)\d(?:[ .\-]?\d){9,}(?!\d)")


class ReviewError(Exception):
    """A problem the trainer or developer must fix (printed without a traceback)."""


def mask_personal_numbers(text: str) -> str:
    """Replace phone numbers by ``0xxxxxxxxx`` and other long digit runs by ``x`` per digit."""
    masked = PHONE_RE.sub(PHONE_MASK, text)
    return LONG_NUMBER_RE.sub(lambda m: re.sub(r"\d", "x", m.group(0)), masked)


def clean_text(text: str) -> str:
    """One line, single spaces, no control characters (safe in YAML and in Rasa examples)."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) != "Cc")
    return " ".join(text.split())


def valid_intents(domain_path: Path = DOMAIN_PATH) -> list[str]:
    """The intents of the domain (names only, in the domain's order)."""
    try:
        domain = yaml.safe_load(domain_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ReviewError(f"cannot read the domain {domain_path}: {error}") from error
    names: list[str] = []
    for item in domain.get("intents") or []:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            names.extend(str(key) for key in item)
    return names


def display_path(path: Path) -> str:
    """The path relative to the repository or the working directory, for messages."""
    for base in (ROOT, Path.cwd()):
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)
