"""`./mttq review`: turn what citizens really typed into training data, by hand.

Two steps, with a trainer in between:

``export``
    Reads Rasa's SQL tracker store (the ``events`` table of ``SQLTrackerStore``; SQLite or
    PostgreSQL) and writes a YAML review file of the citizen messages the assistant handled
    badly: those that fell back (``nlu_fallback``), those whose top intent was below the
    fallback threshold, and the question a citizen was answering when they said the answer did
    not help (``not_helpful`` slot). Phone numbers are masked, sender ids are replaced by a
    keyed hash that only groups the entries of one file, and texts are deduplicated.
``merge``
    Reads the labelled file and appends each labelled text to ``<nlu_dir>/review/<intent>.yml``
    unless it (folded) is already in the training data, and refuses any text of the held-out
    evaluation split so the evaluation stays honest.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import secrets
import sys
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.settings import ROOT, get_settings

DOMAIN_PATH = ROOT / "domain.yml"
CONFIG_PATH = ROOT / "config.yml"
EVAL_DIR = ROOT / "tests" / "data" / "nlu_eval"
NLU_DIR = ROOT / "nlu_data"
FALLBACK_INTENT = "nlu_fallback"
NOT_HELPFUL_SLOT = "not_helpful"
SKIP = "skip"
#: Rasa's own default for FallbackClassifier when config.yml does not set one.
DEFAULT_THRESHOLD = 0.3
#: How far before ``--since`` events are read, so the question a late "no" refers to is found.
#: Conversations expire after 120 minutes (domain.yml), so a day is ample.
SINCE_LOOKBACK = timedelta(days=1)

#: The strongest reason wins when one text qualifies for several.
REASONS = ("not_helpful", "fallback", "low_confidence")

#: Vietnamese phone numbers: 0 / 84 / +84 / (+84), then 8-10 digits with at most one space, dot
#: or hyphen between them (0912 345 678, 024.3825.1234, +84 912-345-678, sdt0912345678).
PHONE_RE = re.compile(r"(?<![\d+])(?:\(\+84\)|\+84|84|0)(?:[ .\-]?\d){8,10}(?!\d)")
PHONE_MASK = "0xxxxxxxxx"
#: Any other run of 10+ digits (citizen ID numbers, bank accounts). Reference codes such as
#: ``KN-2611-00421`` have at most 9 digits and stay readable.
LONG_NUMBER_RE = re.compile(r"(?<!\d)\d(?:[ .\-]?\d){9,}(?!\d)")
#: Rasa reads ``[text](entity)``, ``[text]{...}`` and ``[text][...]`` inside examples as entity
#: annotations; a citizen's brackets must not be.
_ENTITY_MARKUP_RE = re.compile(r"\[[^\]]+?\]\s*[({\[]")

#: What each contract intent means, for the trainer reading the review file.
INTENT_HELP_VI: dict[str, str] = {
    "greet": "chào hỏi",
    "goodbye": "tạm biệt",
    "thank": "cảm ơn",
    "affirm": "đồng ý, trả lời \"có\", \"đúng rồi\"",
    "deny": "từ chối, trả lời \"không\"",
    "bot_challenge": "hỏi có phải đang nói chuyện với máy (chatbot) không",
    "ask_programme": "hỏi về một chương trình, phong trào, hoạt động của Mặt trận",
    "ask_contact": "hỏi địa chỉ, số điện thoại, giờ làm việc, lịch tiếp công dân của Mặt trận",
    "give_feedback": "góp ý về công tác của chính Mặt trận",
    "submit_petition": "phản ánh, kiến nghị, tố cáo một việc ở địa phương cần xử lý",
    "check_status": "hỏi hồ sơ, phản ánh đã gửi đang đến đâu (mã hồ sơ)",
    "request_human": "muốn nói chuyện với cán bộ",
    "delete_my_data": "yêu cầu xoá dữ liệu cá nhân",
    "inform": "trả lời thông tin khi trợ lý hỏi (địa chỉ, tên, số điện thoại...)",
    "out_of_scope": "việc ngoài phạm vi của Mặt trận",
}


class ReviewError(Exception):
    """A problem the trainer or developer must fix (printed without a traceback)."""


# --------------------------------------------------------------------------- helpers


def mask_personal_numbers(text: str) -> str:
    """Replace phone numbers by ``0xxxxxxxxx`` and other long digit runs by ``x`` per digit."""
    masked = PHONE_RE.sub(PHONE_MASK, text)
    return LONG_NUMBER_RE.sub(lambda m: re.sub(r"\d", "x", m.group(0)), masked)


def clean_text(text: str) -> str:
    """One line, single spaces, no control characters (safe in YAML and in Rasa examples)."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if ch.isspace() or unicodedata.category(ch) != "Cc")
    return " ".join(text.split())


def dedupe_key(text: str) -> str:
    """Case- and whitespace-insensitive identity of a message."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


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


def fallback_threshold(config_path: Path = CONFIG_PATH) -> float:
    """The FallbackClassifier threshold of the NLU pipeline in ``config.yml``."""
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ReviewError(f"cannot read {config_path}: {error}") from error
    for component in config.get("pipeline") or []:
        if isinstance(component, dict) and component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", DEFAULT_THRESHOLD))
    return DEFAULT_THRESHOLD


def _conversation_id(sender_id: str, key: bytes) -> str:
    """A keyed hash: groups one file's entries by conversation, cannot be turned back into a
    phone number or a platform user id (the key is random per export and never written)."""
    return "c-" + hmac.new(key, sender_id.encode("utf-8"), hashlib.sha256).hexdigest()[:10]


def _as_timestamp(moment: datetime) -> float:
    """Seconds since the epoch; a naive datetime is read in the deployment's time zone."""
    if moment.tzinfo is None:
        from zoneinfo import ZoneInfo

        moment = moment.replace(tzinfo=ZoneInfo(get_settings().timezone))
    return moment.timestamp()


# --------------------------------------------------------------------------- export


@dataclass
class ReviewEntry:
    text: str
    predicted_intent: str
    confidence: float
    reason: str
    conversation: str
    event_ids: set[int] = field(default_factory=set)

    def as_yaml(self) -> str:
        return (
            f"  - text: {_quote(self.text)}\n"
            f"    predicted_intent: {self.predicted_intent or '~'}\n"
            f"    confidence: {self.confidence:.3f}\n"
            f"    reason: {self.reason}\n"
            f"    conversation: {self.conversation}\n"
            f"    count: {len(self.event_ids)}\n"
            f'    intent: ""\n'
        )


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML; the text is one line)."""
    return json.dumps(text, ensure_ascii=False)


@dataclass
class _UserMessage:
    event_id: int
    text: str
    parse_data: dict[str, Any]
    timestamp: float


def _prediction(parse_data: dict[str, Any]) -> tuple[str, float, bool]:
    """(best real intent, its confidence, whether the fallback fired)."""
    intent = parse_data.get("intent") or {}
    name = str(intent.get("name") or "")
    confidence = float(intent.get("confidence") or 0.0)
    if name != FALLBACK_INTENT:
        return name, confidence, False
    ranking = [
        r for r in parse_data.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT
    ]
    if ranking:
        return str(ranking[0]["name"]), float(ranking[0].get("confidence") or 0.0), True
    return FALLBACK_INTENT, confidence, True


def _events_engine(url: str) -> Any:
    import os

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception as error:  # sqlalchemy raises ArgumentError for a malformed URL
        raise ReviewError(f"not a database URL: {url!r}") from error
    kwargs: dict[str, Any] = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).is_file():
            raise ReviewError(
                f"no tracker store at {database or url} (has the assistant run yet? "
                "set TRACKER_STORE_URL or pass --tracker-store)"
            )
    elif backend == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 10}
        # Rasa's SQLTrackerStore honours POSTGRESQL_SCHEMA; read from the same schema.
        schema = os.environ.get("POSTGRESQL_SCHEMA")
        if schema:
            kwargs["connect_args"]["options"] = f"-csearch_path={schema}"
    return create_engine(parsed, future=True, **kwargs)


def _read_events(url: str, since_ts: float | None) -> Iterator[tuple[int, str, str, str]]:
    """(id, sender_id, type_name, data) of user messages and ``not_helpful`` slot events, in
    the order Rasa stored them."""
    from sqlalchemy import and_, column, or_, select, table
    from sqlalchemy.exc import SQLAlchemyError

    events = table(
        "events",
        column("id"),
        column("sender_id"),
        column("type_name"),
        column("timestamp"),
        column("action_name"),
        column("data"),
    )
    stmt = (
        select(events.c.id, events.c.sender_id, events.c.type_name, events.c.data)
        .where(
            or_(
                events.c.type_name == "user",
                and_(events.c.type_name == "slot", events.c.action_name == NOT_HELPFUL_SLOT),
            )
        )
        .order_by(events.c.id)
    )
    if since_ts is not None:
        stmt = stmt.where(events.c.timestamp >= since_ts - SINCE_LOOKBACK.total_seconds())
    engine = _events_engine(url)
    try:
        with engine.connect() as connection:
            result = connection.execution_options(stream_results=True).execute(stmt)
            for row in result:
                yield int(row.id), str(row.sender_id), str(row.type_name), str(row.data or "{}")
    except SQLAlchemyError as error:
        first = (str(error.orig if hasattr(error, "orig") else error).strip().splitlines()
                 or [""])[0]
        raise ReviewError(
            f"cannot read the tracker store's events table ({type(error).__name__}: {first})"
        ) from error
    finally:
        engine.dispose()


def collect_review_entries(
    rows: Iterable[tuple[int, str, str, str]],
    *,
    threshold: float,
    since_ts: float | None = None,
    key: bytes | None = None,
) -> list[ReviewEntry]:
    """Pick the messages to review from stored events (see the module docstring)."""
    key = key if key is not None else secrets.token_bytes(32)
    recent: dict[str, deque[_UserMessage]] = {}
    entries: dict[str, ReviewEntry] = {}

    def add(message: _UserMessage, reason: str, sender_id: str) -> None:
        text = mask_personal_numbers(clean_text(message.text))
        if not text or text.startswith("/"):
            return
        predicted, confidence, _ = _prediction(message.parse_data)
        k = dedupe_key(text)
        entry = entries.get(k)
        if entry is None:
            entries[k] = ReviewEntry(
                text, predicted, confidence, reason, _conversation_id(sender_id, key),
                {message.event_id},
            )
            return
        entry.event_ids.add(message.event_id)
        if REASONS.index(reason) < REASONS.index(entry.reason):
            entry.reason = reason
            entry.predicted_intent, entry.confidence = predicted, confidence
            entry.conversation = _conversation_id(sender_id, key)

    for event_id, sender_id, type_name, raw in rows:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            continue
        timestamp = float(data.get("timestamp") or 0.0)
        if type_name == "user":
            message = _UserMessage(
                event_id, str(data.get("text") or ""), data.get("parse_data") or {}, timestamp
            )
            recent.setdefault(sender_id, deque(maxlen=2)).append(message)
            if since_ts is not None and timestamp < since_ts:
                continue
            if not (message.parse_data.get("intent") or {}).get("name"):
                continue
            predicted, confidence, fell_back = _prediction(message.parse_data)
            if fell_back:
                add(message, "fallback", sender_id)
            elif confidence < threshold:
                add(message, "low_confidence", sender_id)
        elif type_name == "slot" and data.get("name") == NOT_HELPFUL_SLOT:
            if data.get("value") is not True:
                continue
            if since_ts is not None and timestamp < since_ts:
                continue
            # The last user message is the "no"; the one before it is what was answered.
            previous = recent.get(sender_id)
            if previous is not None and len(previous) == 2:
                add(previous[0], "not_helpful", sender_id)

    return sorted(
        entries.values(),
        key=lambda e: (REASONS.index(e.reason), -len(e.event_ids), e.confidence, e.text),
    )


def _header(threshold: float, entries: list[ReviewEntry], intents: list[str]) -> str:
    counts = {reason: sum(e.reason == reason for e in entries) for reason in REASONS}
    width = max((len(name) for name in intents), default=10) + 2
    intent_lines = "\n".join(
        f"#   {name:<{width}}{INTENT_HELP_VI.get(name, '')}".rstrip() for name in intents
    )
    return f"""\
# TỆP RÀ SOÁT TIN NHẮN CỦA NGƯỜI DÂN (tạo bởi ./mttq review export)
# Tạo lúc {datetime.now().strftime("%Y-%m-%d %H:%M")}; ngưỡng tin cậy {threshold:.2f}; {len(entries)} câu cần gán nhãn
# (mô hình không chắc chắn: {counts["low_confidence"]}, trợ lý phải hỏi lại: {counts["fallback"]}, \
người dân nói không giúp ích: {counts["not_helpful"]}).
#
# CÁCH GÁN NHÃN
#   1. Đọc "text" của từng mục: đó là câu người dân đã gõ.
#   2. Điền vào dòng  intent: ""  MỘT ý định (intent) trong danh sách dưới đây, đúng như viết,
#      ví dụ:   intent: ask_programme
#   3. Câu vô nghĩa, không rõ ý, chứa nhiều ý khác nhau hoặc chứa thông tin cá nhân:
#      điền   intent: skip
#   4. Để nguyên  intent: ""  nghĩa là chưa xem: mục đó bị bỏ qua khi gộp, có thể làm tiếp sau.
#   5. Không sửa cách viết của người dân (viết tắt, không dấu, sai chính tả): mô hình cần học
#      đúng những cách viết đó. Chỉ xoá bớt phần thừa nếu thật cần.
#   6. Số điện thoại đã được che thành 0xxxxxxxxx. Không bao giờ ghi số thật vào tệp này.
#   7. Các trường khác chỉ để tham khảo, không cần sửa:
#        predicted_intent  ý định mô hình đoán; confidence  độ tin cậy của mô hình (0-1)
#        reason  low_confidence = mô hình không chắc chắn; fallback = trợ lý phải hỏi lại;
#                not_helpful = người dân trả lời "không" khi được hỏi
#                "Thông tin này có giúp ích không?" (câu hỏi ban đầu của họ)
#        conversation  mã hội thoại đã ẩn danh, chỉ để nhận ra các câu của cùng một cuộc
#                      trò chuyện trong tệp này; count  số lần câu này xuất hiện
#   8. Làm xong, lưu tệp (giữ mã hoá UTF-8) rồi chạy:
#        ./mttq review merge <đường dẫn tệp này>
#      Câu đã có trong dữ liệu huấn luyện sẽ được bỏ qua; câu trùng với bộ kiểm thử
#      (tests/data/nlu_eval) sẽ bị từ chối để giữ kết quả đánh giá trung thực.
#
# CÁC Ý ĐỊNH HỢP LỆ (intent)
{intent_lines}
#   {SKIP:<{width}}bỏ qua câu này
"""


def export_review(
    tracker_store_url: str,
    out_path: Path,
    *,
    threshold: float,
    since: datetime | None,
    domain_path: Path = DOMAIN_PATH,
) -> int:
    """Write the review file for the tracker store's conversations; return how many entries.

    Nothing is written when there is nothing to review.
    """
    since_ts = _as_timestamp(since) if since is not None else None
    entries = collect_review_entries(
        _read_events(tracker_store_url, since_ts), threshold=threshold, since_ts=since_ts
    )
    if not entries:
        return 0
    intents = valid_intents(domain_path)
    body = "".join(entry.as_yaml() for entry in entries)
    content = (
        _header(threshold, entries, intents)
        + "\n"
        + f"threshold: {threshold}\n"
        + (f'since: "{since:%Y-%m-%d %H:%M}"\n' if since is not None else "")
        + "entries:\n"
        + body
    )
    # The file must read back as exactly what was meant (a trainer will edit it by hand).
    parsed = yaml.safe_load(content)
    if [e["text"] for e in parsed["entries"]] != [e.text for e in entries]:
        raise ReviewError("internal error: the review file does not read back as written")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(content, encoding="utf-8")
    tmp.replace(out_path)
    return len(entries)


# --------------------------------------------------------------------------- merge


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
                f"{_rel(held_out[key][1])}; training on it would spoil the evaluation"
            )
            continue
        if key in known:
            intent, path = known[key]
            report.duplicates += 1
            conflict = "" if intent == label else f" as {intent!r}, labelled {label!r} now"
            report.details.append(
                f"duplicate entry {number} ({text!r}): already in {_rel(path)}{conflict}"
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


def _rel(path: Path) -> str:
    for base in (ROOT, Path.cwd()):
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)


# --------------------------------------------------------------------------- CLI


def _date(value: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from error


def _default_out() -> Path:
    directory = get_settings().var_dir / "review"
    stem = f"review-{datetime.now().strftime('%Y%m%d')}"
    path = directory / f"{stem}.yml"
    n = 2
    while path.exists():  # never overwrite a file a trainer may be labelling
        path = directory / f"{stem}-{n}.yml"
        n += 1
    return path


def main_review(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./mttq review",
        description="Export badly handled citizen messages for labelling, then merge the labels "
        "into the training data.",
    )
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("export", help="write a review file from the tracker store")
    p.add_argument("--out", type=Path, help="review file (default var/review/review-YYYYMMDD.yml)")
    p.add_argument("--threshold", type=float,
                   help="confidence below which a message is exported (default: config.yml's "
                        "FallbackClassifier threshold)")
    p.add_argument("--since", type=_date, help="only messages from this day on (YYYY-MM-DD)")
    p.add_argument("--tracker-store", help="tracker store URL (default TRACKER_STORE_URL)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p = sub.add_parser("merge", help="append a labelled review file to nlu_data/review/")
    p.add_argument("file", type=Path)
    p.add_argument("--nlu-dir", type=Path, default=NLU_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.step == "export":
            return _cli_export(args)
        return _cli_merge(args)
    except ReviewError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _cli_export(args: argparse.Namespace) -> int:
    out: Path = args.out or _default_out()
    if args.out is not None and out.exists() and not args.force:
        raise ReviewError(f"{out} exists (it may hold labels); choose another --out or --force")
    threshold = args.threshold if args.threshold is not None else fallback_threshold()
    url = args.tracker_store or get_settings().tracker_store_url
    count = export_review(url, out, threshold=threshold, since=args.since)
    if count == 0:
        print("Nothing to review: no fallback, low-confidence or not-helpful messages"
              + (f" since {args.since:%Y-%m-%d}." if args.since else "."))
        return 0
    print(f"Wrote {count} messages to review to {_rel(out)} (threshold {threshold:.2f}).")
    print(f"Label them (instructions at the top of the file), then: ./mttq review merge {_rel(out)}")
    return 0


def _cli_merge(args: argparse.Namespace) -> int:
    report = merge_review(args.file, args.nlu_dir)
    if not report.ok:
        print(f"{len(report.errors)} error(s), nothing merged:", file=sys.stderr)
        for error in report.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    for line in report.details:
        print(f"  {line}")
    print(
        f"Added {report.added}, skipped {report.skipped} (skip or unlabelled), "
        f"duplicates {report.duplicates}, refused {report.refused_eval_overlap} "
        "(held-out overlap)."
    )
    for path in report.files:
        print(f"  wrote {_rel(path)}")
    if report.added:
        print("Retrain with ./mttq train, check with ./mttq evaluate, then ./mttq promote.")
    return 0


if __name__ == "__main__":
    sys.exit(main_review(sys.argv[1:]))
