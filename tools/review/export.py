"""`./mttq review export`: the citizen messages the assistant handled badly, as a file to label.

Reads Rasa's tracker store and writes the review file a trainer edits by hand; separate from the
merge because it touches conversations (personal data, masked here) and never training data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.settings import ROOT, get_settings
from tools.review.common import (
    DOMAIN_PATH,
    SKIP,
    ReviewError,
    clean_text,
    mask_personal_numbers,
    valid_intents,
)

CONFIG_PATH = ROOT / "config.yml"
FALLBACK_INTENT = "nlu_fallback"
NOT_HELPFUL_SLOT = "not_helpful"
#: Rasa's own default for FallbackClassifier when config.yml does not set one.
DEFAULT_THRESHOLD = 0.3
#: How far before ``--since`` events are read, so the question a late "no" refers to is found.
#: Conversations expire after 120 minutes (domain.yml), so a day is ample.
SINCE_LOOKBACK = timedelta(days=1)

#: The strongest reason wins when one text qualifies for several.
REASONS = ("not_helpful", "fallback", "low_confidence")

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
    "subscribe": "đăng ký nhận thông báo của Mặt trận (sự kiện, cứu trợ, bầu cử...) qua kênh này",
    "unsubscribe": "hủy nhận tin: không muốn nhận thông báo của Mặt trận nữa",
    "inform": "trả lời thông tin khi trợ lý hỏi (địa chỉ, tên, số điện thoại...)",
    "out_of_scope": "việc ngoài phạm vi của Mặt trận",
}


def dedupe_key(text: str) -> str:
    """Case- and whitespace-insensitive identity of a message."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


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
