"""`./mttq review`: export from a real Rasa SQL tracker store, label, merge into training data.

The tracker store is Rasa's own ``SQLTrackerStore`` (a SQLite file under ``tmp_path``, and a
fresh PostgreSQL schema through the ``db_url`` fixture of tests/conftest.py), filled with
``DialogueStateTracker``s the way Rasa saves them.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.training_data.loading import load_data

from bot.vietnamese.normalize import fold, strip_diacritics
from tools.review.__main__ import main_review
from tools.review.common import PHONE_MASK, ReviewError, mask_personal_numbers, valid_intents
from tools.review.export import export_review, fallback_threshold
from tools.review.merge import EVAL_DIR, merge_review

# Rasa 3.6 warns about removed slot auto-fill for every domain that has slots.
pytestmark = pytest.mark.filterwarnings("ignore:Slot auto-fill has been removed:UserWarning")

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "review"
NOW = time.time()
OLD = datetime(2024, 3, 1, 9, 0).timestamp()  # before the --since used below

# Sender ids as channels produce them: one is a phone number (never to be written out).
PHONE_SENDER = "+84912345678"
ZALO_SENDER = "zalo-77881234"
FB_SENDER = "fb-5550001"


def _user(text: str, intent: str, confidence: float, ts: float, ranking=None) -> UserUttered:
    parse_data = {
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
        "entities": [],
        "text": text,
    }
    return UserUttered(
        text, {"name": intent, "confidence": confidence}, [], parse_data, timestamp=ts
    )


def _fallback(text: str, best: str, confidence: float, ts: float) -> UserUttered:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": best, "confidence": confidence},
        {"name": "greet", "confidence": 0.05},
    ]
    event = _user(text, "nlu_fallback", 0.5, ts, ranking)
    return event


def _turn(action: str, ts: float, *events: Event) -> list[Event]:
    return [ActionExecuted(action, timestamp=ts), *events,
            ActionExecuted("action_listen", timestamp=ts + 0.01)]


CONVERSATIONS: dict[str, list[Event]] = {
    PHONE_SENDER: [
        _user("xin chào", "greet", 0.98, NOW - 500),
        *_turn("utter_greet", NOW - 499, BotUttered("Xin chào!", timestamp=NOW - 499)),
        _user("cho em hỏi quỹ vì người nghèo đăng ký sao, sđt em 0912 345 678",
              "ask_programme", 0.35, NOW - 490),
        *_turn("action_answer_programme", NOW - 489),
        _user("/greet", "greet", 1.0, NOW - 480),  # a button payload
        _user("/ask_programme", "ask_programme", 0.2, NOW - 470),  # payload, even if unsure
        _user("đúng ngưỡng thì không xuất", "inform", 0.50, NOW - 460),  # == threshold
        _user("vừa dưới ngưỡng thì xuất", "inform", 0.49, NOW - 450),
    ],
    ZALO_SENDER: [
        _fallback("asdfgh qwerty", "out_of_scope", 0.22, NOW - 400),
        *_turn("action_default_ask_rephrase", NOW - 399),
        _fallback("ASDFGH    qwerty ", "out_of_scope", 0.21, NOW - 390),  # same text, dedup
        _user("gọi giúp em số +84 98 765 4321 với", "request_human", 0.3, NOW - 380),
        _user("hồi năm ngoái em có hỏi rồi", "check_status", 0.2, OLD),  # before --since
    ],
    FB_SENDER: [
        # Asked, answered confidently, and the citizen said the answer did not help.
        _user("nhà đại đoàn kết xin ở đâu", "ask_programme", 0.92, NOW - 300),
        *_turn("action_answer_programme", NOW - 299,
               BotUttered("Thông tin này có giúp ích không?", timestamp=NOW - 299),
               SlotSet("awaiting", "helpful", timestamp=NOW - 299)),
        _user("không", "deny", 0.95, NOW - 290),
        *_turn("action_handle_yes_no", NOW - 289,
               SlotSet("awaiting", None, timestamp=NOW - 289),
               SlotSet("not_helpful_count", 1.0, timestamp=NOW - 289),
               SlotSet("not_helpful", True, timestamp=NOW - 289)),
        # Helpful this time: a confident question and a "yes" -> nothing to review.
        _user("lịch tiếp công dân thế nào", "ask_contact", 0.88, NOW - 200),
        *_turn("action_answer_programme", NOW - 199),
        _user("có", "affirm", 0.97, NOW - 190),
        *_turn("action_handle_yes_no", NOW - 189, SlotSet("not_helpful", False, timestamp=NOW - 189)),
    ],
}

#: What the export must produce from CONVERSATIONS at threshold 0.5 (masked texts), and why.
EXPECTED = {
    "nhà đại đoàn kết xin ở đâu": ("not_helpful", "ask_programme"),
    "asdfgh qwerty": ("fallback", "out_of_scope"),
    f"cho em hỏi quỹ vì người nghèo đăng ký sao, sđt em {PHONE_MASK}": (
        "low_confidence", "ask_programme"),
    "vừa dưới ngưỡng thì xuất": ("low_confidence", "inform"),
    f"gọi giúp em số {PHONE_MASK} với": ("low_confidence", "request_human"),
    "hồi năm ngoái em có hỏi rồi": ("low_confidence", "check_status"),
}


def fill_tracker_store(url: str) -> None:
    """Save CONVERSATIONS through Rasa's SQLTrackerStore into the database at url."""
    domain = Domain.load(str(ROOT / "domain.yml"))
    store = SQLTrackerStore(domain, host=url)
    try:
        for sender, events in CONVERSATIONS.items():
            tracker = DialogueStateTracker.from_events(sender, events, domain.slots)
            asyncio.run(store.save(tracker))
    finally:
        store.engine.dispose()


def read_entries(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]


@pytest.fixture
def sqlite_store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    fill_tracker_store(url)
    return url


# --------------------------------------------------------------------------- export


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("sđt 0912345678 nhé", f"sđt {PHONE_MASK} nhé"),
        ("gọi 0912 345 678", f"gọi {PHONE_MASK}"),
        ("gọi 0912.345.678 giúp", f"gọi {PHONE_MASK} giúp"),
        ("+84 912-345-678", PHONE_MASK),
        ("(+84)912345678", PHONE_MASK),
        ("84912345678", PHONE_MASK),
        ("sdt0912345678", f"sdt{PHONE_MASK}"),
        ("máy bàn 024 3825 1234", f"máy bàn {PHONE_MASK}"),
        ("cccd 001203004567", "cccd xxxxxxxxxxxx"),
        ("hồ sơ KN-2611-0042", "hồ sơ KN-2611-0042"),
        ("mã kn 2611 00421", "mã kn 2611 00421"),
        ("ngày 18/11/1930, năm 2025", "ngày 18/11/1930, năm 2025"),
    ],
)
def test_mask_personal_numbers(text: str, masked: str) -> None:
    assert mask_personal_numbers(text) == masked


def test_threshold_default_comes_from_config() -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    (fallback,) = [c for c in config["pipeline"] if c["name"] == "FallbackClassifier"]
    assert fallback_threshold() == pytest.approx(float(fallback["threshold"]))


def test_export_picks_exactly_the_messages_to_review(db_url: str, tmp_path: Path) -> None:
    """Runs on SQLite and on PostgreSQL (a fresh schema; see tests/conftest.py)."""
    fill_tracker_store(db_url)
    out = tmp_path / "review" / "review.yml"

    count = export_review(db_url, out, threshold=0.5, since=None)

    entries = read_entries(out)
    assert count == len(entries) == len(EXPECTED)
    got = {e["text"]: (e["reason"], e["predicted_intent"]) for e in entries}
    assert got == EXPECTED
    # Strongest reason first, so a trainer starts with what the citizens said failed.
    assert entries[0]["text"] == "nhà đại đoàn kết xin ở đâu"
    assert entries[0]["confidence"] == pytest.approx(0.92)
    by_text = {e["text"]: e for e in entries}
    assert by_text["asdfgh qwerty"]["count"] == 2  # deduplicated across case and spacing
    # The fallback shows the classifier's best real guess, not "nlu_fallback".
    assert by_text["asdfgh qwerty"]["confidence"] == pytest.approx(0.22)
    assert all(e["intent"] == "" for e in entries)


def test_export_writes_no_phone_numbers_or_sender_ids(sqlite_store: str, tmp_path: Path) -> None:
    out = tmp_path / "review.yml"
    export_review(sqlite_store, out, threshold=0.5, since=None)
    content = out.read_text(encoding="utf-8")

    digits_only = re.sub(r"\D", "", content)
    for secret in ("0912345678", "912345678", "987654321", "84987654321"):
        assert secret not in digits_only.replace("0xxxxxxxxx", "")
    for sender in CONVERSATIONS:
        assert sender not in content
    assert PHONE_MASK in content
    entries = read_entries(out)
    conversations = {e["conversation"] for e in entries}
    assert all(re.fullmatch(r"c-[0-9a-f]{10}", c) for c in conversations)
    # One id per conversation: the phone-number sender's two messages share one.
    phone_ids = {e["conversation"] for e in entries if "ngưỡng" in e["text"] or "sđt" in e["text"]}
    assert len(phone_ids) == 1


def test_export_header_explains_labelling_in_vietnamese(
    sqlite_store: str, tmp_path: Path
) -> None:
    out = tmp_path / "review.yml"
    export_review(sqlite_store, out, threshold=0.5, since=None)
    header = "".join(
        line for line in out.read_text(encoding="utf-8").splitlines(keepends=True)
        if line.startswith("#")
    )
    assert "CÁCH GÁN NHÃN" in header
    assert "intent: skip" in header
    assert "./mttq review merge" in header
    for intent in valid_intents():
        assert re.search(rf"^#\s+{intent}\b", header, re.MULTILINE), intent


def test_export_since_skips_older_messages(sqlite_store: str, tmp_path: Path) -> None:
    out = tmp_path / "review.yml"
    count = export_review(sqlite_store, out, threshold=0.5, since=datetime(2025, 1, 1))
    texts = {e["text"] for e in read_entries(out)}
    assert count == len(EXPECTED) - 1
    assert texts == set(EXPECTED) - {"hồi năm ngoái em có hỏi rồi"}


def test_export_threshold_changes_what_is_low_confidence(
    sqlite_store: str, tmp_path: Path
) -> None:
    out = tmp_path / "review.yml"
    export_review(sqlite_store, out, threshold=0.3, since=None)
    reasons = {e["text"]: e["reason"] for e in read_entries(out)}
    # 0.35, 0.49 and 0.3 are no longer below the threshold; 0.2 still is.
    assert reasons == {
        "nhà đại đoàn kết xin ở đâu": "not_helpful",
        "asdfgh qwerty": "fallback",
        "hồi năm ngoái em có hỏi rồi": "low_confidence",
    }


def test_export_without_a_tracker_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReviewError, match="no tracker store"):
        export_review(f"sqlite:///{tmp_path / 'missing.db'}", tmp_path / "r.yml",
                      threshold=0.5, since=None)
    assert not (tmp_path / "missing.db").exists()


def test_cli_export_then_merge(
    sqlite_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.yml"
    assert main_review(["export", "--tracker-store", sqlite_store, "--out", str(out),
                        "--threshold", "0.5", "--since", "2025-01-01"]) == 0
    assert f"Wrote {len(EXPECTED) - 1} messages" in capsys.readouterr().out
    # An existing file may hold a trainer's labels: never overwritten without --force.
    assert main_review(["export", "--tracker-store", sqlite_store, "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err

    nlu_dir = tmp_path / "nlu_data"
    shutil.copytree(ROOT / "nlu_data", nlu_dir)
    label(out, {"asdfgh qwerty": "out_of_scope"})
    assert main_review(["merge", str(out), "--nlu-dir", str(nlu_dir)]) == 0
    assert "Added 1," in capsys.readouterr().out


# --------------------------------------------------------------------------- merge


def label(path: Path, labels: dict[str, str]) -> None:
    """Fill `intent: ""` lines by hand, the way a trainer edits the file."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    current = None
    for i, line in enumerate(lines):
        if line.lstrip().startswith("- text:"):
            current = yaml.safe_load(line.split(":", 1)[1])
        elif line.strip() == 'intent: ""' and current in labels:
            lines[i] = line.replace('""', labels[current])
    path.write_text("".join(lines), encoding="utf-8")


def _first_example(path: Path) -> tuple[str, str]:
    message = load_data(str(path)).intent_examples[0]
    return message.get("text"), message.get("intent")


@pytest.fixture
def nlu_dir(tmp_path: Path) -> Path:
    target = tmp_path / "nlu_data"
    shutil.copytree(ROOT / "nlu_data", target)
    return target


def _review_examples(nlu_dir: Path, intent: str) -> list[str]:
    path = nlu_dir / "review" / f"{intent}.yml"
    data = load_data(str(path))
    assert {m.get("intent") for m in data.intent_examples} == {intent}
    assert not any(m.get("entities") for m in data.intent_examples)
    return [m.get("text") for m in data.intent_examples]


def test_merge_exported_file(sqlite_store: str, tmp_path: Path, nlu_dir: Path) -> None:
    out = tmp_path / "review.yml"
    export_review(sqlite_store, out, threshold=0.5, since=None)
    # Add what a trainer might also meet: a training example typed without diacritics and in
    # capitals, and a held-out evaluation example.
    train_text, train_intent = _first_example(ROOT / "nlu_data" / "nlu" / "smalltalk.yml")
    eval_text, eval_intent = _first_example(EVAL_DIR / "with_diacritics.yml")
    assert fold(train_text) != fold(eval_text)
    with out.open("a", encoding="utf-8") as f:
        for text, intent in [(strip_diacritics(train_text).upper(), train_intent),
                             (eval_text, eval_intent)]:
            f.write(f'  - text: "{text}"\n    reason: fallback\n    intent: "{intent}"\n')
    label(out, {
        "nhà đại đoàn kết xin ở đâu": "ask_programme",
        "asdfgh qwerty": "skip",
        f"cho em hỏi quỹ vì người nghèo đăng ký sao, sđt em {PHONE_MASK}": "ask_programme",
        f"gọi giúp em số {PHONE_MASK} với": "request_human",
    })

    report = merge_review(out, nlu_dir)

    assert report.errors == []
    assert report.added == 3
    assert report.duplicates == 1
    assert report.refused_eval_overlap == 1
    # skip + two left unlabelled ("vừa dưới ngưỡng thì xuất", "hồi năm ngoái ...").
    assert report.skipped == 3
    assert any("held-out" in d and eval_text in d for d in report.details)
    assert any("duplicate" in d and "smalltalk.yml" in d for d in report.details)
    assert _review_examples(nlu_dir, "ask_programme") == [
        "nhà đại đoàn kết xin ở đâu",
        f"cho em hỏi quỹ vì người nghèo đăng ký sao, sđt em {PHONE_MASK}",
    ]
    assert _review_examples(nlu_dir, "request_human") == [f"gọi giúp em số {PHONE_MASK} với"]
    assert not (nlu_dir / "review" / f"{eval_intent}.yml").exists() or eval_text not in (
        _review_examples(nlu_dir, eval_intent)
    )
    # Rasa's importer (what `rasa train --data nlu_data` uses) finds the new files.
    imported = RasaFileImporter(training_data_paths=[str(nlu_dir / "review")]).get_nlu_data("vi")
    assert {(m.get("text"), m.get("intent")) for m in imported.intent_examples} == {
        ("nhà đại đoàn kết xin ở đâu", "ask_programme"),
        (f"cho em hỏi quỹ vì người nghèo đăng ký sao, sđt em {PHONE_MASK}", "ask_programme"),
        (f"gọi giúp em số {PHONE_MASK} với", "request_human"),
    }

    # Merging the same file again adds nothing.
    before = (nlu_dir / "review" / "ask_programme.yml").read_text(encoding="utf-8")
    again = merge_review(out, nlu_dir)
    assert (again.added, again.duplicates, again.refused_eval_overlap) == (0, 4, 1)
    assert (nlu_dir / "review" / "ask_programme.yml").read_text(encoding="utf-8") == before


def test_merge_awkward_texts_load_as_plain_examples(nlu_dir: Path) -> None:
    report = merge_review(FIXTURES / "labelled.yml", nlu_dir)

    assert report.errors == []
    assert (report.added, report.skipped, report.duplicates) == (4, 2, 1)
    assert _review_examples(nlu_dir, "ask_programme") == [
        "cho mình hỏi (quỹ vì người nghèo)(programme) nhận tiền ở đâu vậy"
    ]
    assert _review_examples(nlu_dir, "submit_petition") == [
        'con hẻm "số 7": đèn đường hỏng cả tuần rồi'
    ]
    assert _review_examples(nlu_dir, "ask_contact") == ["# ad ơi mặt trận phường mấy giờ làm việc"]
    assert _review_examples(nlu_dir, "check_status") == ["- hồ sơ KN-2611-0042 của em tới đâu rồi ạ"]
    # A later merge appends to the same file, keeping what is there.
    later = nlu_dir.parent / "later.yml"
    later.write_text(
        'entries:\n  - text: "mặt trận phường làm việc thứ bảy không"\n    intent: ask_contact\n',
        encoding="utf-8",
    )
    assert merge_review(later, nlu_dir).added == 1
    assert _review_examples(nlu_dir, "ask_contact") == [
        "# ad ơi mặt trận phường mấy giờ làm việc",
        "mặt trận phường làm việc thứ bảy không",
    ]


def test_merge_unknown_intent_is_an_error_and_writes_nothing(
    nlu_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    review = tmp_path / "typo.yml"
    review.write_text(
        "entries:\n"
        '  - text: "mặt trận phường làm việc thứ bảy không"\n    intent: ask_contact\n'
        '  - text: "quỹ vì người nghèo là gì"\n    intent: ask_progamme\n',
        encoding="utf-8",
    )

    report = merge_review(review, nlu_dir)

    assert report.added == 0
    assert len(report.errors) == 1
    assert "ask_progamme" in report.errors[0]
    for intent in valid_intents():
        assert intent in report.errors[0]
    assert not (nlu_dir / "review").exists()
    assert main_review(["merge", str(review), "--nlu-dir", str(nlu_dir)]) == 1
    assert "unknown intent 'ask_progamme'" in capsys.readouterr().err


def test_merge_refuses_an_unmasked_phone_number(nlu_dir: Path, tmp_path: Path) -> None:
    review = tmp_path / "phone.yml"
    review.write_text(
        'entries:\n  - text: "gọi em số 0912345678"\n    intent: request_human\n',
        encoding="utf-8",
    )
    report = merge_review(review, nlu_dir)
    assert report.added == 0
    assert report.errors and PHONE_MASK in report.errors[0]
    assert not (nlu_dir / "review").exists()
