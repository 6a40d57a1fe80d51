"""Tests of the moderation filter: the labelled set's precision and recall, then table-driven
tests of normalisation, each category, the reporting exemption, the rate limiter, the data files
and the command line.

The labelled-set test prints its figures and every misclassified line (run pytest with ``-s`` to
see them); it fails below precision 0.98 or recall 0.90, because a petition quarantined by
mistake costs more than a spam message that reaches staff.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.moderation import (
    ModerationRules,
    ModerationRulesError,
    SpamRateLimiter,
    Verdict,
    clear_rules_cache,
    load_rules,
    moderate,
    normalise,
)
from bot.moderation.__main__ import main as cli_main
from bot.moderation.engine import quoted_spans
from bot.moderation.evaluate import evaluate, read_labelled
from bot.moderation.normalise import canonical, fold, lenient_pattern

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "content" / "moderation"
DATA_DIR = ROOT / "tests" / "data" / "moderation"

MIN_PRECISION = 0.98
MIN_RECALL = 0.90


@pytest.fixture(scope="module")
def rules() -> ModerationRules:
    return load_rules(RULES_DIR)


# --------------------------------------------------------------------------- labelled sets


def test_labelled_set_precision_and_recall(rules: ModerationRules) -> None:
    pairs = read_labelled(DATA_DIR / "labelled.tsv")
    assert sum(1 for label, _ in pairs if label == "spam") >= 170
    assert sum(1 for label, _ in pairs if label == "legit") >= 170
    result = evaluate(pairs, rules)
    print("\n" + result.summary("labelled.tsv"))
    assert result.precision >= MIN_PRECISION, result.summary("labelled.tsv")
    assert result.recall >= MIN_RECALL, result.summary("labelled.tsv")


def test_holdout_set_is_reported(rules: ModerationRules) -> None:
    """Messages never tuned on: the figures are printed, not enforced."""
    pairs = read_labelled(DATA_DIR / "holdout.tsv")
    assert sum(1 for label, _ in pairs if label == "spam") == 20
    assert sum(1 for label, _ in pairs if label == "legit") == 20
    print("\n" + evaluate(pairs, rules).summary("holdout.tsv"))


def test_seed_article_with_injected_gambling_spam_is_flagged(rules: ModerationRules) -> None:
    """A real Front article into which "Fv88 / game bài đổi thưởng" spam was injected; it also
    contains "phản ánh" and "kiến nghị" as ordinary nouns, which must not excuse it."""
    text = (DATA_DIR / "seed_article_fv88.txt").read_text(encoding="utf-8")
    verdict = moderate(text, rules)
    assert verdict.flagged
    assert verdict.category == "gambling"
    assert "gambling.brand_names" in verdict.rule_ids


def test_labelled_file_with_a_bad_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("spam\tok line\nham text without tab\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv:2"):
        read_labelled(path)


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("raw", "text", "folded", "compact"),
    [
        # NFD input (macOS keyboards) becomes NFC; case is lowered.
        ("Hoa\u0300 Bi\u0300nh", "hòa bình", "hoa binh", "hoa binh"),
        # one tone placement: "hoà"/"hòa", "khoẻ"/"khỏe", "thuỷ"/"thủy"; "quý" untouched.
        ("hoà khoẻ thuỷ quý", "hòa khỏe thủy quý", "hoa khoe thuy quy", "hoa khoe thuy quy"),
        # đ folds to d; the folded view keeps offsets.
        ("Đề nghị", "đề nghị", "de nghi", "de nghi"),
        # dotted and spaced-out letters are joined in the compact view only.
        ("F.V.8.8", "f.v.8.8", "f.v.8.8", "fv88"),
        ("c a s i n o", "c a s i n o", "c a s i n o", "casino"),
        ("k.i.ế.m t.i.ề.n", "k.i.ế.m t.i.ề.n", "k.i.e.m t.i.e.n", "kiem tien"),
        # leetspeak inside words, but phone numbers and amounts stay numbers.
        ("n0 hu v4y", "n0 hu v4y", "n0 hu v4y", "no hu vay"),
        ("0912345678 500k", "0912345678 500k", "0912345678 500k", "0912345678 500k"),
        # full-width and mathematical letters, zero-width spaces, stretched letters.
        ("ｆｖ８８ 𝐜𝐚𝐬𝐢𝐧𝐨", "fv88 casino", "fv88 casino", "fv88 casino"),
        ("vay\u200b tiền", "vay tiền", "vay tien", "vay tien"),
        # Cyrillic and Greek look-alikes, a tone mark typed after one included.
        (
            "V\u0430y nh\u0430nh, s\u043e\u0301 \u03bfk",
            "vay nhanh, só ok",
            "vay nhanh, so ok",
            "vay nhanh, so ok",
        ),
        ("ngu quáaaa", "ngu quá", "ngu qua", "ngu qua"),
        # "cccd" (citizen ID) is not a stretched letter; short chat is not joined.
        ("CCCD", "cccd", "cccd", "cccd"),
        ("a e k", "a e k", "a e k", "aek"),
        ("đ m", "đ m", "d m", "d m"),
        ("5 - 7 h", "5 - 7 h", "5 - 7 h", "5 - 7 h"),
    ],
)
def test_normalise_views(raw: str, text: str, folded: str, compact: str) -> None:
    norm = normalise(raw)
    assert (norm.text, norm.folded, norm.compact) == (text, folded, compact)
    assert len(norm.folded) == len(norm.text)


def test_letter_spaced_runs_are_kept_for_the_squashed_phrases() -> None:
    """A run joined whole loses its word edges ("bansimrac"); it is kept apart so that
    de-obfuscating rules can look for their phrases inside it, and only letter-spaced runs are."""
    assert normalise("b á n s i m r á c giá rẻ").runs == "bansimrac"
    assert normalise("f.v.8.8 và c a s i n o").runs == "casino"
    assert normalise("Đường ngõ 5 ngập sâu, đề nghị xử lý").runs == ""


def test_fold_keeps_length() -> None:
    sample = canonical("Người dân phản ánh đường ngập, đề nghị xử lý")
    assert len(fold(sample)) == len(sample)


@pytest.mark.parametrize(
    ("phrase", "text", "strict", "matches"),
    [
        ("cá độ", "ca do bong da", False, True),  # typed without diacritics
        ("cá độ", "cá đô", False, True),  # partly typed
        ("cá độ", "trường hợp ca đó", False, False),  # a different word, other marks
        ("lồn", "cây to lớn", False, False),
        ("buồi", "buổi sáng", True, False),  # strict: exact diacritics only
        ("buồi", "buoi sang", True, False),
        ("hoà giải", "hòa giải", False, True),  # tone placement
        ("nạp đầu", "nạp-đầu", False, True),  # separators inside a phrase
        ("vay", "vayy", False, False),  # word edges
        ("vay nhanh", "vay.nhanh", False, True),  # a dot between words (stop 48)
        ("vay nhanh", "v.a.y . nhanh", False, False),  # the dotted letters are the compact view's
        ("vay nhanh", "cần vay . nhanh gọn", False, True),  # a dot set apart by spaces
        ("thử gọi", "tới thử. Gọi lại", False, False),  # a full stop ends the sentence
    ],
)
def test_lenient_pattern(phrase: str, text: str, strict: bool, matches: bool) -> None:
    import re

    found = re.search(lenient_pattern(phrase, strict=strict), canonical(text)) is not None
    assert found is matches


def test_quoted_spans_need_words_outside_the_quotes() -> None:
    assert quoted_spans('họ nhắn "nạp đầu tặng 100%" cho tôi')
    assert not quoted_spans('"nạp đầu tặng 100%"')


def test_single_quotation_marks_set_off_a_pasted_advert() -> None:
    text = "có đứa đăng 'tài xỉu uy tín, nạp rút 1-1' trong nhóm, phạm pháp đó"
    assert [text[a:b] for a, b in quoted_spans(text)] == ["'tài xỉu uy tín, nạp rút 1-1'"]
    typographic = "nó ghi ‘vay 50 triệu không thẩm định’ rồi để số điện thoại"
    assert quoted_spans(typographic)
    # A quote mark inside or right after a word is no quotation.
    assert not quoted_spans("page của ad's team nói 'x và nhiều thứ khác")


def test_a_message_pasted_after_a_citizens_lead_in_counts_as_quoted() -> None:
    text = normalise("Nguyên văn tin nhắn: Vay 80 triệu chỉ cần căn cước, duyệt 15 phút. "
                     "Có thật không").text
    spans = quoted_spans(text)
    assert [text[a:b] for a, b in spans] == ["vay 80 triệu chỉ cần căn cước, duyệt 15 phút"]
    # An advert's own headings are not a citizen's lead-in.
    assert not quoted_spans(normalise("Ưu đãi tháng 3: vay 80 triệu chỉ cần căn cước, "
                                      "duyệt 15 phút. Liên hệ ngay").text)
    assert not quoted_spans(normalise("Nhận quà 8/3: tặng voucher 1 triệu, đăng nhập tại "
                                      "link. Nhanh tay").text)


# --------------------------------------------------------------------------- categories


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # gambling: seed-article style, brands, obfuscation, lottery tips, betting links
        ("Đăng Ký Fv88 nhận 88K, link vào trang chủ fv88 mới nhất", "gambling"),
        ("Top cổng game bài đổi thưởng uy tín", "gambling"),
        ("f.v.8.8 link moi nhat, n.ạ.p đầu x200%", "gambling"),
        ("c a s i n o truc tuyen tang 200k tan thu", "gambling"),
        ("soi cầu bạch thủ lô hôm nay, kết bạn zalo 0912 345 678", "gambling"),
        ("vào ngay kubet88vip.bet nhận code", "gambling"),
        # scam and phishing links
        ("Tài khoản Vietcombank của quý khách bị khóa, xác thực tại vcb-xacthuc.com", "scam_link"),
        ("Cap nhat VNeID muc 2 tai dichvucong-gov.vn.net ngay hom nay", "scam_link"),
        (
            "Chúc mừng bạn trúng thưởng, nhận quà tại bit.ly/qua-tang, đóng phí vận chuyển",
            "scam_link",
        ),
        ("Nhập mã OTP vừa gửi tới máy để nhận 2 triệu tiền hỗ trợ", "scam_link"),
        # loan spam
        ("Vay tiền nhanh không thế chấp, chỉ cần CCCD, giải ngân trong 15 phút", "loan_spam"),
        ("app vay online no xau van vay duoc, duyet tu dong", "loan_spam"),
        ("V4y t1ền nh4nh kh0ng thế chấp, ib ngay", "loan_spam"),
        # earn money online
        ("Việc nhẹ lương cao, làm tại nhà 300-500k/ngày, ib mình", "earn_money_spam"),
        ("Tuyển CTV làm nhiệm vụ đánh giá 5 sao nhận hoa hồng", "earn_money_spam"),
        ("Cho thuê tài khoản ngân hàng giá cao, liên hệ ngay", "earn_money_spam"),
        # abuse: obscenity with and without diacritics, teencode, insults, threats
        ("đm bọn mày", "abuse"),
        ("dit me may", "abuse"),
        ("vcl page này", "abuse"),
        ("đ.m thằng admin", "abuse"),
        ("cán bộ gì mà ngu như chó", "abuse"),
        ("mày ngu như con lợn", "abuse"),
        ("tao sẽ đốt nhà mày", "abuse"),
        ("đồ súc vật, câm mồm lại", "abuse"),
    ],
)
def test_each_category_is_flagged(rules: ModerationRules, text: str, category: str) -> None:
    verdict = moderate(text, rules)
    assert verdict.flagged, verdict
    assert verdict.category == category, verdict
    assert verdict.score >= rules.threshold
    assert verdict.rule_ids and verdict.reason


@pytest.mark.parametrize(
    "text",
    [
        "Cho hỏi lịch tiếp công dân của mặt trận phường",
        "chuyển khoản ủng hộ quỹ vì người nghèo số tài khoản nào",
        "Số điện thoại của tôi là 0912345678, xin gọi lại giúp",
        "Xem thông báo tại https://dichvucong.gov.vn/p/home/dvc-trang-chu.html",
        "Cây xanh lớn trước nhà sắp đổ, buổi tối rất nguy hiểm",
        "Các cháu đeo khẩu trang đi học có bắt buộc không",
        "Mua bó rau 88k ở chợ, giá quá cao",
        "Tôi ở số nhà 88, nước mất 3 ngày rồi",
        "Hộ nghèo có được vay vốn ngân hàng chính sách không thế chấp không?",
        "Tôi rất bức xúc, phản ánh 3 lần rồi mà không ai giải quyết, quá tắc trách",
        "Tiền hỗ trợ lũ lụt đến nay vẫn chưa giải ngân",
        "Nhà tôi có bán hoa hồng, muốn tham gia hội chợ",
        "",
    ],
)
def test_ordinary_messages_pass(rules: ModerationRules, text: str) -> None:
    verdict = moderate(text, rules)
    assert not verdict.flagged, verdict
    assert verdict.category == "clean"


# --------------------------------------------------------------------------- reporting exemption


@pytest.mark.parametrize(
    "text",
    [
        "trang fanpage của phường bị hack đăng quảng cáo cờ bạc fv88, đề nghị xử lý",
        "có nhóm cho vay nặng lãi dán tờ rơi khắp ngõ",
        "tôi bị lừa qua link giả mạo ngân hàng",
        "hàng xóm tổ chức đánh bạc",
        'Có nhóm dán tờ rơi "vay tiền nhanh không thế chấp" khắp ngõ, đề nghị phường dẹp',
        "Tôi nhận được tin nhắn báo trúng thưởng, có phải lừa đảo không ạ?",
        'Em nhận tin nhắn "tài khoản bị khóa, xác thực tại vcb-xacminh.com", có nên bấm không?',
        "Hàng xóm chửi tôi là đồ ngu như chó, đề nghị hòa giải",
        'Anh ta dọa "tao đốt nhà mày", đề nghị công an xử lý',
        "Con tôi bị lừa làm nhiệm vụ online nhận hoa hồng, mất 30 triệu",
        "ad ơi page mình bị hack hay sao mà đăng toàn bài fv88 vậy",
    ],
)
def test_citizens_reporting_spam_or_abuse_pass(rules: ModerationRules, text: str) -> None:
    verdict = moderate(text, rules)
    assert not verdict.flagged, verdict
    assert verdict.category == "clean"


def test_reporting_lowers_the_score_of_the_same_words(rules: ModerationRules) -> None:
    advert = moderate("fv88 nạp đầu tặng 100%, link vào fv88", rules)
    report = moderate("trang phường bị hack, đăng fv88 nạp đầu tặng 100%, đề nghị xử lý", rules)
    assert advert.flagged and not report.flagged
    assert report.score < advert.score
    assert "phản ánh" in report.reason
    assert any(rule_id.startswith("report.") for rule_id in report.rule_ids)


def test_reporting_words_do_not_excuse_heavy_spam(rules: ModerationRules) -> None:
    text = "Đăng Ký Fv88 nhận 88k, nạp đầu tặng 100%, game bài đổi thưởng uy tín, phản ánh về việc"
    assert moderate(text, rules).flagged


# --------------------------------------------------------------------------- verdict contract


def test_verdict_is_frozen_and_reason_fits_the_quarantine_table(rules: ModerationRules) -> None:
    verdict = moderate("Đăng Ký Fv88 " * 50 + "game bài đổi thưởng nạp đầu", rules)
    assert isinstance(verdict, Verdict)
    assert len(verdict.reason) <= 255
    with pytest.raises(AttributeError):
        verdict.flagged = False  # type: ignore[misc]


def test_moderate_loads_default_rules_when_none_given() -> None:
    clear_rules_cache()
    assert moderate("vay tiền nhanh không thế chấp, chỉ cần cccd").category == "loan_spam"
    assert load_rules() is load_rules()  # cached per process


# --------------------------------------------------------------------------- rate limiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SPAM = Verdict(True, "gambling", 3.0, "Quảng cáo cờ bạc", ("gambling.brand_names",))
CLEAN = Verdict(False, "clean", 0.0, "Không phát hiện dấu hiệu vi phạm.")


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # (seconds since start, verdict) -> category returned for each
        ([(0, SPAM), (1, SPAM), (2, SPAM)], ["gambling", "gambling", "gambling"]),
        ([(0, SPAM), (1, SPAM), (2, SPAM), (3, SPAM)], ["gambling"] * 3 + ["rate_limited"]),
        # while over the limit even a clean-looking message is held
        (
            [(0, SPAM), (1, SPAM), (2, SPAM), (3, SPAM), (4, CLEAN)],
            ["gambling"] * 3 + ["rate_limited", "rate_limited"],
        ),
        # clean messages are never counted
        ([(0, CLEAN)] * 10, ["clean"] * 10),
        # the window slides: old flags expire
        ([(0, SPAM), (1, SPAM), (2, SPAM), (700, SPAM)], ["gambling"] * 4),
        (
            [(0, SPAM), (1, SPAM), (2, SPAM), (3, SPAM), (700, CLEAN)],
            ["gambling"] * 3 + ["rate_limited", "clean"],
        ),
    ],
)
def test_rate_limiter_sliding_window(
    events: list[tuple[float, Verdict]], expected: list[str]
) -> None:
    clock = FakeClock()
    limiter = SpamRateLimiter(max_flagged=3, window_seconds=600, clock=clock)
    got = []
    for offset, verdict in events:
        clock.now = 1000.0 + offset
        got.append(limiter.check("zalo:123", verdict).category)
    assert got == expected


def test_rate_limiter_counts_senders_separately_and_explains() -> None:
    limiter = SpamRateLimiter(max_flagged=1, window_seconds=60)
    assert limiter.check("a", SPAM, now=0).category == "gambling"
    assert limiter.check("b", SPAM, now=1).category == "gambling"
    limited = limiter.check("a", SPAM, now=2)
    assert limited.flagged and limited.category == "rate_limited"
    assert limited.rule_ids[0] == "rate_limit.sender"
    assert "2 tin" in limited.reason and len(limited.reason) <= 255
    assert limiter.count("a", now=2) == 2 and limiter.count("b", now=2) == 1


def test_rate_limiter_snapshot_restore_and_purge() -> None:
    limiter = SpamRateLimiter(max_flagged=2, window_seconds=60)
    for t in (0, 1, 2):
        limiter.check("a", SPAM, now=t)
    copy = SpamRateLimiter(max_flagged=2, window_seconds=60)
    copy.restore(limiter.snapshot())
    assert copy.check("a", CLEAN, now=3).category == "rate_limited"
    assert copy.purge(now=1000) == 1 and copy.snapshot() == {}


def test_rate_limiter_from_rules_and_bad_config(rules: ModerationRules) -> None:
    limiter = SpamRateLimiter.from_rules(rules)
    assert limiter.max_flagged == rules.rate_limit_max_flagged
    assert limiter.window_seconds == rules.rate_limit_window_seconds
    with pytest.raises(ValueError):
        SpamRateLimiter(max_flagged=0)


# --------------------------------------------------------------------------- data files


def test_shipped_rules_load_with_ids_weights_and_descriptions(rules: ModerationRules) -> None:
    ids = [rule.id for rule in rules.rules]
    assert len(ids) == len(set(ids))
    assert {r.category for r in rules.rules} >= {
        "gambling",
        "scam_link",
        "loan_spam",
        "earn_money_spam",
        "abuse",
        "signal",
        "report",
    }
    assert all(r.weight > 0 and r.description for r in rules.rules)
    assert "gov.vn" in rules.trusted_domains and "mattran.org.vn" in rules.trusted_domains


def _copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "moderation"
    shutil.copytree(RULES_DIR, target)
    return target


@pytest.mark.parametrize(
    ("file_name", "content", "message"),
    [
        (
            "gambling.yml",
            "category: gambling\nrules: [\n  - id: x\n",
            r"gambling\.yml: malformed YAML",
        ),
        ("settings.yml", "threshold: [1\n", r"settings\.yml: malformed YAML"),
        (
            "settings.yml",
            "abuse_not_excused_by: [report.question, abuse.insult]\n",
            r"settings\.yml: abuse_not_excused_by names rules that are not report rules: "
            r"abuse\.insult",
        ),
        ("extra.yml", "category: spamz\nrules: []\n", r"extra\.yml: 'category'"),
        (
            "extra.yml",
            "category: gambling\nrules:\n  - id: extra.one\n    weight: 1\n    description: x\n"
            "    patterns: ['(unclosed']\n",
            r"extra\.yml: rule 'extra\.one': bad pattern",
        ),
        (
            "extra.yml",
            "category: gambling\nrules:\n  - id: extra.one\n    weight: 1\n    terms: [a]\n",
            r"extra\.yml: rule 'extra\.one': needs a Vietnamese 'description'",
        ),
        (
            "extra.yml",
            "category: gambling\nrules:\n  - id: extra.one\n    weight: 1\n    description: x\n"
            "    term: [a]\n",
            r"extra\.yml: rule 'extra\.one': unknown key\(s\): term",
        ),
        (
            "zz_extra.yml",
            "category: gambling\nrules:\n  - id: gambling.brand_names\n    weight: 1\n"
            "    description: x\n    terms: [a]\n",
            r"zz_extra\.yml: rule id 'gambling\.brand_names' is already used in gambling\.yml",
        ),
    ],
)
def test_malformed_data_files_raise_an_error_naming_the_file(
    tmp_path: Path, file_name: str, content: str, message: str
) -> None:
    directory = _copy_rules(tmp_path)
    (directory / file_name).write_text(content, encoding="utf-8")
    with pytest.raises(ModerationRulesError, match=message):
        load_rules(directory)


def test_rules_are_read_by_a_function_and_cached(tmp_path: Path) -> None:
    directory = _copy_rules(tmp_path)
    first = load_rules(directory)
    assert load_rules(directory) is first
    # A staff edit takes effect after the cache is cleared.
    (directory / "extra.yml").write_text(
        "category: gambling\nrules:\n  - id: extra.new_brand\n    weight: 1.5\n"
        "    description: Nhà cái mới\n    terms: [zz99vip]\n",
        encoding="utf-8",
    )
    assert not moderate("zz99vip", load_rules(directory)).flagged
    clear_rules_cache()
    assert moderate("zz99vip", load_rules(directory)).category == "gambling"


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ModerationRulesError, match="not found"):
        load_rules(tmp_path / "nowhere")


def test_importing_the_package_reads_no_files() -> None:
    code = (
        "import builtins, pathlib\n"
        "opened = []\n"
        "real = pathlib.Path.read_text\n"
        "pathlib.Path.read_text = lambda self, *a, **k: opened.append(self) or real(self, *a, **k)\n"
        "import bot.moderation\n"
        "assert not opened, opened\n"
        "assert 'rasa' not in __import__('sys').modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# --------------------------------------------------------------------------- command line


def test_cli_prints_one_tsv_decision_per_line(tmp_path: Path) -> None:
    path = tmp_path / "messages.txt"
    path.write_text(
        "vay tiền nhanh không thế chấp\n\nCho hỏi lịch tiếp dân\ndm\tbọn mày\n"
        "Cống trước nhà bốc mùi cả tuần rồi, đm, phường có ai xử lý không\n", encoding="utf-8"
    )
    out = io.StringIO()
    assert cli_main([str(path), "--rules", str(RULES_DIR), "--header"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "decision\tmarker\trules\tcategory\tscore\treason\ttext"
    rows = [line.split("\t") for line in lines[1:]]
    assert all(len(row) == 7 for row in rows)
    assert [tuple(row[:4]) for row in rows] == [
        ("STOP", "clean", "FLAG", "loan_spam"),
        ("TAKE", "clean", "PASS", "clean"),
        ("CALM", "rude", "FLAG", "abuse"),  # only an insult: a calm reply, no case
        ("TAKE", "rude", "FLAG", "abuse"),  # rude, but a complaint: a case, marked for staff
    ]
    assert rows[2][6] == "dm bọn mày"  # a tab inside a message does not break the columns


#: Stop 50: the rules and the gate disagree on these (``test_moderation_learned.py`` has both).
#: The command once printed the rules' verdict only, so a trainer saw PASS for the first, which
#: the product quarantines, and FLAG for the second, which it takes as a case.
ADVERT_THE_MODEL_STOPS = ("Cảnh giác nha anh em: web game giả mạo nhiều lắm, chỉ nạp tại trang"
                          " chính chủ LucVip thôi, rút nhanh uy tín. Link chính thức: lucvip·club")
CITIZEN_THE_MODEL_TAKES = ("Nhà mạng khóa 2 chiều sim vì chưa chuẩn hóa thông tin thuê bao mà tui"
                           " làm rồi, giờ không nhận được OTP ngân hàng, bực mình quá")


def test_cli_prints_the_gates_decision_where_the_model_overrules_the_rules(
        tmp_path: Path) -> None:
    path = tmp_path / "messages.txt"
    path.write_text(f"{ADVERT_THE_MODEL_STOPS}\n{CITIZEN_THE_MODEL_TAKES}\n", encoding="utf-8")
    out = io.StringIO()
    assert cli_main([str(path)], out=out) == 0
    advert, citizen = (line.split("\t") for line in out.getvalue().splitlines())
    assert advert[:3] == ["STOP", "clean", "PASS"] and "Mô hình học máy" in advert[5]
    assert citizen[:3] == ["TAKE", "clean", "FLAG"] and citizen[5].startswith("Cho qua")
    out = io.StringIO()
    assert cli_main([str(path), "--flagged-only"], out=out) == 0
    assert [line.split("\t")[0] for line in out.getvalue().splitlines()] == ["STOP"]


def test_cli_rules_only_prints_the_word_lists_verdict(tmp_path: Path) -> None:
    path = tmp_path / "messages.txt"
    path.write_text(f"{ADVERT_THE_MODEL_STOPS}\n{CITIZEN_THE_MODEL_TAKES}\nCho hỏi lịch tiếp dân\n",
                    encoding="utf-8")
    out = io.StringIO()
    assert cli_main([str(path), "--rules-only", "--header"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "verdict\tcategory\tscore\treason\ttext"
    assert [line.split("\t")[0] for line in lines[1:]] == ["PASS", "FLAG", "PASS"]
    out = io.StringIO()
    assert cli_main([str(path), "--rules-only", "--flagged-only"], out=out) == 0
    assert [line.split("\t")[0] for line in out.getvalue().splitlines()] == ["FLAG"]


def test_cli_runs_as_a_module_from_stdin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.moderation"],
        input="Top cổng game bài đổi thưởng uy tín\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("STOP\tclean\tFLAG\tgambling\t")


def test_cli_eval_prints_precision_and_recall() -> None:
    out = io.StringIO()
    args = [str(DATA_DIR / "holdout.tsv"), "--eval", "--rules", str(RULES_DIR)]
    assert cli_main(args, out=out) == 0
    assert "precision" in out.getvalue() and "recall" in out.getvalue()


def test_cli_reports_broken_rules_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = _copy_rules(tmp_path)
    (directory / "loan.yml").write_text("rules: [", encoding="utf-8")
    assert cli_main(["--rules", str(directory)], out=io.StringIO()) == 2
    assert "loan.yml: malformed YAML" in capsys.readouterr().err


def test_cli_reads_several_files_in_turn(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("Cho hỏi lịch tiếp dân\n", encoding="utf-8")
    second.write_text("vay tiền nhanh không thế chấp\n", encoding="utf-8")
    out = io.StringIO()
    assert cli_main([str(first), str(second), "--rules-only"], out=out) == 0
    assert [line.split("\t")[0] for line in out.getvalue().splitlines()] == ["PASS", "FLAG"]


def test_cli_names_a_file_it_cannot_read(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.txt"
    for args in ([str(missing)], ["--eval", str(missing)], [str(tmp_path)]):
        out = io.StringIO()
        assert cli_main(args, out=out) == 2
        assert out.getvalue() == ""
        assert "error: cannot read" in capsys.readouterr().err
