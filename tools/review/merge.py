"""`./mttq review merge`: the texts a trainer labelled, appended to the training data.

Reads a labelled review file and writes ``nlu_data/review/<intent>.yml``; separate from the
export because it works on training data only (never on conversations) and needs Rasa's
loaders to check what it writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.settings import ROOT
from tools.review.common import (
    DOMAIN_PATH,
    PHONE_MASK,
    SKIP,
    ReviewError,
    clean_text,
    display_path,
    mask_personal_numbers,
    valid_intents,
)

EVAL_DIR = ROOT / "tests" / "data" / "nlu_eval"
NLU_DIR = ROOT / "nlu_data"
#: Rasa reads ``[text](entity)``, ``[text]{...}`` and ``[text][...]`` inside examples as entity
#: annotations; a citizen's brackets must not be.
_ENTITY_MARKUP_RE = re.compile(r"\[[^\]]+?\]\s*[({\[]")


@dataclass
class MergeReport:
    added: int = 0
    skipped: int = 0
    duplicates: int = 0
    refused_eval_overlap: int = 0
    errors: list[str] = field(default_factory=list)
    #: One line per duplicate or refused entry: what and where it already is.
    details: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def example_text(text: str) -> str:
    """A text as one ``- example`` line of a Rasa literal block.

    A literal block cannot escape anything, so the text is made safe instead: one line, no
    surrounding spaces, and brackets that Rasa would read as an entity annotation turned into
    parentheses.
    """
    text = clean_text(text)
    if _ENTITY_MARKUP_RE.search(text):
        text = text.replace("[", "(").replace("]", ")")
    return text


def _nlu_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml")
    )


def _intent_examples(path: Path) -> Iterator[tuple[str, str]]:
    """(plain text, intent) of a Rasa YAML NLU file's intent examples, read the way Rasa reads
    them (``- `` lines of a literal block or ``text:`` items; entity markup removed) without
    Rasa's per-entity schema validation, which costs seconds on our data."""
    from rasa.shared.nlu.training_data.entities_parser import replace_entities

    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, yaml.YAMLError) as error:
        raise ReviewError(f"cannot read {path}: {error}") from error
    if not isinstance(data, dict):
        return
    for block in data.get("nlu") or []:
        if not isinstance(block, dict) or not block.get("intent"):
            continue
        intent = str(block["intent"])
        examples = block.get("examples") or ""
        if isinstance(examples, str):
            texts = [line[1:] for line in examples.splitlines() if line.startswith("-")]
        else:
            texts = [str(e.get("text") or "") for e in examples if isinstance(e, dict)]
        for text in texts:
            plain = replace_entities(text.strip("\n\r "))
            if plain:
                yield plain, intent


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def index_examples(directory: Path) -> dict[str, tuple[str, Path]]:
    """Folded text -> (intent, file) for every intent example of the NLU files in directory."""
    from bot.vietnamese.normalize import fold

    index: dict[str, tuple[str, Path]] = {}
    for path in _nlu_files(directory):
        for text, intent in _intent_examples(path):
            index.setdefault(fold(text), (intent, path))
    return index


def _load_review(review_path: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(review_path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ReviewError(f"cannot read {review_path}: {error}") from error
    except yaml.YAMLError as error:
        raise ReviewError(f"{review_path} is not valid YAML: {error}") from error
    entries = data.get("entries") if isinstance(data, dict) else data
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ReviewError(f"{review_path}: expected 'entries:' with a list of entries")
    return entries


_REVIEW_FILE_HEADER = (
    "# Citizen messages labelled by trainers (./mttq review export, then ./mttq review merge).\n"
    "# merge appends here; edit by hand if needed, one intent per file.\n"
)


def _existing_review_examples(path: Path, intent: str) -> tuple[str, list[str]]:
    """(leading comment block, example lines) of a review NLU file written by merge."""
    if not path.exists():
        return _REVIEW_FILE_HEADER, []
    text = path.read_text(encoding="utf-8")
    comments = "".join(
        line + "\n" for line in _leading_comments(text.splitlines())
    ) or _REVIEW_FILE_HEADER
    data = yaml.safe_load(text) or {}
    blocks = data.get("nlu") or []
    if (
        len(blocks) != 1
        or blocks[0].get("intent") != intent
        or not isinstance(blocks[0].get("examples", ""), str)
    ):
        raise ReviewError(
            f"{path} must hold exactly one '- intent: {intent}' block with '|' examples "
            "for merge to extend it"
        )
    lines = [
        line[1:].strip()
        for line in blocks[0].get("examples", "").splitlines()
        if line.startswith("-") and line[1:].strip()
    ]
    return comments, lines


def _leading_comments(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line.startswith("version:") or (not line.strip() and not out):
            continue
        if not line.startswith("#"):
            break
        out.append(line)
    return out


def _render_nlu_file(comments: str, intent: str, examples: list[str]) -> str:
    lines = "".join(f"    - {example}\n" for example in examples)
    return f'version: "3.1"\n\n{comments}nlu:\n- intent: {intent}\n  examples: |\n{lines}'


def _write_checked(path: Path, content: str, intent: str, expected: int) -> None:
    """Write, then load the file with Rasa; put the old content back if it does not load."""
    from rasa.shared.nlu.training_data.loading import load_data

    old = path.read_text(encoding="utf-8") if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    try:
        data = load_data(str(path))
        got = [m for m in data.intent_examples if m.get("intent") == intent]
        if len(got) != expected:
            raise ReviewError(f"{path}: Rasa read {len(got)} examples, expected {expected}")
    except Exception:
        if old is None:
            path.unlink()
        else:
            path.write_text(old, encoding="utf-8")
        raise


def merge_review(
    review_path: Path,
    nlu_dir: Path,
    *,
    eval_dir: Path = EVAL_DIR,
    domain_path: Path = DOMAIN_PATH,
) -> MergeReport:
    """Append the labelled texts of a review file to ``nlu_dir/review/<intent>.yml``.

    All or nothing: when any entry has an unknown intent (or is otherwise unusable) nothing is
    written and the report lists the errors. Texts already in ``nlu_dir`` (compared folded) are
    duplicates; texts of the held-out split in ``eval_dir`` are refused.
    """
    from bot.vietnamese.normalize import fold

    report = MergeReport()
    intents = valid_intents(domain_path)
    labelled: list[tuple[int, str, str]] = []
    for number, entry in enumerate(_load_review(review_path), start=1):
        label = str(entry.get("intent") or "").strip()
        raw_text = entry.get("text")
        text = example_text(str(raw_text)) if raw_text is not None else ""
        if not label or label.lower() == SKIP:
            report.skipped += 1
            continue
        where = f"entry {number} ({text[:60]!r})"
        if label not in intents:
            report.errors.append(
                f"{where}: unknown intent {label!r}; use one of: {', '.join(intents)}, or {SKIP}"
            )
            continue
        if not text:
            report.errors.append(f"{where}: empty text")
            continue
        if mask_personal_numbers(text) != text:
            report.errors.append(
                f"{where}: contains a phone or ID number; mask it as {PHONE_MASK} or skip it"
            )
            continue
        labelled.append((number, text, label))
    if report.errors:
        return report

    held_out = index_examples(eval_dir)
    known = index_examples(nlu_dir)
    pending: dict[str, list[str]] = {}
    review_dir = nlu_dir / "review"
    for number, text, label in labelled:
        key = fold(text)
        if key in held_out:
            report.refused_eval_overlap += 1
            report.details.append(
                f"refused entry {number} ({text!r}): in the held-out split "
                f"{display_path(held_out[key][1])}; training on it would spoil the evaluation"
            )
            continue
        if key in known:
            intent, path = known[key]
            report.duplicates += 1
            conflict = "" if intent == label else f" as {intent!r}, labelled {label!r} now"
            report.details.append(
                f"duplicate entry {number} ({text!r}): already in {display_path(path)}{conflict}"
            )
            continue
        known[key] = (label, review_dir / f"{label}.yml")
        pending.setdefault(label, []).append(text)
        report.added += 1

    for intent, texts in pending.items():
        path = review_dir / f"{intent}.yml"
        comments, existing = _existing_review_examples(path, intent)
        examples = existing + texts
        _write_checked(path, _render_nlu_file(comments, intent, examples), intent, len(examples))
        report.files.append(path)
    return report
