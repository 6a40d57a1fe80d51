"""Tests of the programme knowledge base (bot/knowledge/programmes.py and content/programmes/*.yml).

Run from the repository root: ``PYTHONPATH=. python -m pytest tests/unit/test_knowledge.py -q``.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from bot.knowledge.programme_files import known_programmes, load_knowledge_base, main
from bot.knowledge.programmes import (
    ASPECTS,
    UNIT_CONTACT_PLACEHOLDER,
    KnowledgeBase,
    KnowledgeBaseError,
    aspect_labels,
    missing_entries,
    render_answer,
)
from bot.knowledge.replies import reply_text

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DIR = ROOT / "content" / "programmes"
KNOWN_PROGRAMMES = known_programmes(SHIPPED_DIR)
FIXTURES = ROOT / "tests" / "data" / "knowledge"

# The 13 programme values of the NLU contract (docs: /work/shared/DESIGN.md), spelled out here so
# that a change to KNOWN_PROGRAMMES is a visible decision, not a silent one.
CONTRACT_PROGRAMMES = [
    "quy_vi_nguoi_ngheo",
    "mai_am_dai_doan_ket",
    "ngay_hoi_dai_doan_ket",
    "uu_tien_hang_viet",
    "nong_thon_moi_do_thi_van_minh",
    "giam_sat_phan_bien",
    "thanh_tra_nhan_dan",
    "giam_sat_dau_tu_cong_dong",
    "cuu_tro",
    "hoa_giai_co_so",
    "bau_cu",
    "ban_tin",
    "fanpage",
]
CONTRACT_ASPECTS = ["gioi_thieu", "doi_tuong", "cach_tham_gia", "ung_ho", "lien_he", "thoi_gian"]

# Eight or more digits in a run, allowing one space, dot or hyphen between them: phone numbers
# (0912 345 678, 024.3825.1234, +84 912345678) and bank accounts. Dates (18/11/1930) and legal
# numbers (93/2021/NĐ-CP) do not match; year ranges (2026-2031) and ISO dates (a fact's
# valid_until: 2030-06-30) are blanked out first.
LOCAL_NUMBER_RE = re.compile(r"(?<!\d)\d(?:[ .\-]?\d){7,}(?!\d)")
YEAR_RANGE_RE = re.compile(r"(?<!\d)(?:19|20)\d\d ?[-–] ?(?:19|20)\d\d(?!\d)")
ISO_DATE_RE = re.compile(r"(?<!\d)(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?!\d)")


def looks_like_local_number(text: str) -> bool:
    text = ISO_DATE_RE.sub(" ", text)
    return LOCAL_NUMBER_RE.search(YEAR_RANGE_RE.sub(" ", text)) is not None


EMAIL_OR_URL_RE = re.compile(r"@|https?://|www\.|\.vn\b|\.com\b", re.IGNORECASE)
MARKDOWN_RE = re.compile(r"\*\*|__|`|^\s*[#>*-]\s|\[[^\]]*\]\(|^\s*\d+\.\s", re.MULTILINE)

# Letters that only exist with a diacritic (or as đ); plain ASCII a, e, i, o, u, y are excluded.
VIETNAMESE_MARKED = set("àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ")
# Frequent words that never appear without diacritics in correct Vietnamese.
ASCII_ONLY_GIVEAWAYS = {"nguoi", "duoc", "khong", "hoac", "quoc", "viec", "phuong", "thuong"}


def has_proper_diacritics(text: str) -> bool:
    """True when ``text`` reads as Vietnamese typed with its marks: at least a third of its
    words carry a marked letter and none of the giveaway words appears bare."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    if not words:
        return False
    marked = sum(1 for w in words if VIETNAMESE_MARKED.intersection(w))
    return marked / len(words) >= 1 / 3 and not ASCII_ONLY_GIVEAWAYS.intersection(words)


def sentence_count(text: str) -> int:
    return len(re.findall(r"[.!?…](?=\s|$)", text))


@pytest.fixture(scope="module")
def shipped() -> KnowledgeBase:
    return load_knowledge_base(SHIPPED_DIR)


def _all_entries(kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    """(programme, field, text) for every text a citizen may see."""
    rows: list[tuple[str, str, str]] = []
    for p in kb.programmes:
        rows.append((p.programme, "title", p.title))
        rows.append((p.programme, "summary", p.summary))
        rows.extend((p.programme, f"aspects.{a}", p.answers[a]) for a in p.aspects)
    return rows


# --- the shipped knowledge base -------------------------------------------------------------


def test_contract_constants() -> None:
    assert list(KNOWN_PROGRAMMES) == CONTRACT_PROGRAMMES
    assert list(ASPECTS) == CONTRACT_ASPECTS


def test_shipped_knowledge_base_is_complete(shipped: KnowledgeBase) -> None:
    assert [p.programme for p in shipped.programmes] == CONTRACT_PROGRAMMES
    assert missing_entries(shipped, CONTRACT_PROGRAMMES) == []


@pytest.mark.parametrize("programme", CONTRACT_PROGRAMMES)
@pytest.mark.parametrize("aspect", CONTRACT_ASPECTS)
def test_every_programme_answers_every_aspect(
    shipped: KnowledgeBase, programme: str, aspect: str
) -> None:
    answer = shipped.get(programme).answer(aspect)
    assert answer is not None and answer.strip(), f"{programme}.{aspect} has no answer"


@pytest.mark.parametrize("programme", CONTRACT_PROGRAMMES)
def test_programme_file_header(shipped: KnowledgeBase, programme: str) -> None:
    p = shipped.get(programme)
    assert p.source == SHIPPED_DIR / f"{programme}.yml"
    assert p.title and p.summary
    assert 2 <= sentence_count(p.summary) <= 3, p.summary
    assert p.keywords, f"{programme} has no keywords for trainers"


@pytest.mark.parametrize(
    "text",
    ["0912 345 678", "024.3825.1234", "+84 912345678", "1903-6868-8888", "19036868888800"],
)
def test_local_number_pattern_catches_phones_and_accounts(text: str) -> None:
    assert looks_like_local_number(f"Gọi số {text} nhé")


@pytest.mark.parametrize(
    "text",
    [
        "18/11/1930",
        "Nghị định 93/2021/NĐ-CP",
        "nhiệm kỳ 2026–2031",
        "giai đoạn 2021-2025",
        "từ 17/10 đến 18/11",
        "Luật số 85/2015/QH13",
        "ngày 01/01/2014",
        "valid_until: 2030-06-30",
    ],
)
def test_local_number_pattern_spares_dates_and_law_numbers(text: str) -> None:
    assert not looks_like_local_number(text)


def test_no_phone_number_or_account_in_shipped_files() -> None:
    """Local facts come from the unit configuration only; not even a comment may hold one."""
    offenders = [
        f"{path.name}:{lineno}: {line.strip()}"
        for path in sorted(SHIPPED_DIR.glob("*.y*ml"))
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if looks_like_local_number(line)
    ]
    assert offenders == []


def test_no_email_url_or_markdown_in_answers(shipped: KnowledgeBase) -> None:
    offenders = [
        f"{prog}.{field}"
        for prog, field, text in _all_entries(shipped)
        if EMAIL_OR_URL_RE.search(text) or MARKDOWN_RE.search(text) or "\n" in text
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Quỹ hỗ trợ hộ nghèo, hộ cận nghèo và hộ có hoàn cảnh khó khăn.", True),
        ("Quy ho tro ho ngheo, ho can ngheo va ho co hoan canh kho khan.", False),
        ("Ban hay lien he Uy ban Mat tran To quoc phuong.", False),
        ("Người dân được hỏi Ủy ban Mặt trận khong?", False),
        ("", False),
    ],
)
def test_diacritics_check(text: str, expected: bool) -> None:
    assert has_proper_diacritics(text) is expected


def test_every_text_has_proper_diacritics(shipped: KnowledgeBase) -> None:
    offenders = [
        f"{prog}.{field}"
        for prog, field, text in _all_entries(shipped)
        if not has_proper_diacritics(text.replace(UNIT_CONTACT_PLACEHOLDER, ""))
        or unicodedata.normalize("NFC", text) != text
    ]
    assert offenders == []


def test_every_answer_is_one_to_five_sentences(shipped: KnowledgeBase) -> None:
    offenders = []
    for prog, field, text in _all_entries(shipped):
        if not field.startswith("aspects."):
            continue
        n = sentence_count(text.replace(UNIT_CONTACT_PLACEHOLDER, ""))
        if not 1 <= n <= 5:
            offenders.append(f"{prog}.{field}: {n} sentences")
    assert offenders == []


@pytest.mark.parametrize("programme", CONTRACT_PROGRAMMES)
def test_contact_answers_carry_the_unit_contact(shipped: KnowledgeBase, programme: str) -> None:
    answer = shipped.get(programme).answer("lien_he")
    assert answer is not None and UNIT_CONTACT_PLACEHOLDER in answer


def test_labels() -> None:
    assert list(aspect_labels()) == list(ASPECTS)
    labels = list(aspect_labels().values())
    assert len(set(labels)) == len(labels)
    for label in labels:
        assert 0 < len(label) <= 20 and has_proper_diacritics(label), label


# --- API --------------------------------------------------------------------------------------


def test_fixture_ordering_and_gaps() -> None:
    kb = load_knowledge_base(FIXTURES / "valid")
    # contract order first, then programmes outside the contract by name
    assert [p.programme for p in kb.programmes] == ["quy_vi_nguoi_ngheo", "cuu_tro", "zeta_extra"]
    assert len(kb) == 3 and "cuu_tro" in kb and "bau_cu" not in kb
    gaps = missing_entries(kb, ["cuu_tro", "bau_cu"])
    assert gaps == [
        "cuu_tro.doi_tuong: no answer",
        "cuu_tro.cach_tham_gia: no answer",
        "cuu_tro.ung_ho: no answer",
        "cuu_tro.thoi_gian: no answer",
        "bau_cu: no programme file",
    ]
    assert missing_entries(kb, ["quy_vi_nguoi_ngheo"]) == []


def test_programme_accessors() -> None:
    kb = load_knowledge_base(FIXTURES / "valid")
    p = kb.get("cuu_tro")
    assert p.title == "Cứu trợ (thử)"
    assert p.aspects == ("gioi_thieu", "lien_he")
    assert p.answer("ung_ho") is None
    assert p.answer("not_an_aspect") is None
    # a folded block keeps one line and the placeholder intact
    assert kb.get("quy_vi_nguoi_ngheo").answer("ung_ho") == (
        "Câu trả lời thử về cách ủng hộ. {unit_contact}"
    )
    with pytest.raises(KeyError, match="bau_cu"):
        kb.get("bau_cu")


def test_text_is_normalised_to_nfc(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Hòa giải ở cơ sở")
    (tmp_path / "hoa_giai_co_so.yml").write_text(
        f"programme: hoa_giai_co_so\ntitle: {decomposed}\nsummary: Tóm tắt.\n"
        f"aspects:\n  gioi_thieu: '{decomposed}   là gì.'\n",
        encoding="utf-8",
    )
    p = load_knowledge_base(tmp_path).get("hoa_giai_co_so")
    assert p.title == "Hòa giải ở cơ sở" == unicodedata.normalize("NFC", p.title)
    assert p.answer("gioi_thieu") == "Hòa giải ở cơ sở là gì."


FALLBACK = "Bạn vui lòng hỏi Ủy ban Mặt trận phường."


@pytest.mark.parametrize(
    ("text", "contact", "expected"),
    [
        ("Liên hệ: {unit_contact}", "Địa chỉ: số 1 phố A.", "Liên hệ: Địa chỉ: số 1 phố A."),
        ("Liên hệ Mặt trận. {unit_contact}", None, f"Liên hệ Mặt trận. {FALLBACK}"),
        ("Liên hệ Mặt trận. {unit_contact}", "   ", f"Liên hệ Mặt trận. {FALLBACK}"),
        (
            "Liên hệ Mặt trận.  {unit_contact}  ",
            " Giờ làm việc (mẫu). ",
            "Liên hệ Mặt trận. Giờ làm việc (mẫu).",
        ),
        ("Không có chỗ thay.", "bất kỳ", "Không có chỗ thay."),
        ("Giữ {ngoặc} khác. {unit_contact}", "A.", "Giữ {ngoặc} khác. A."),
        ("{unit_contact} và {unit_contact}", "A", "A và A"),
    ],
)
def test_render_answer(text: str, contact: str | None, expected: str) -> None:
    assert render_answer(text, contact, FALLBACK) == expected


def test_render_shipped_answers_leave_no_placeholder(shipped: KnowledgeBase) -> None:
    for p in shipped.programmes:
        for aspect in p.aspects:
            rendered = render_answer(p.answers[aspect], None, reply_text("contact_unknown_unit"))
            assert "{" not in rendered and "}" not in rendered, f"{p.programme}.{aspect}"


def test_validation_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(SHIPPED_DIR)]) == 0
    assert main([str(FIXTURES / "valid")]) == 1
    out = capsys.readouterr().out
    assert "missing: cuu_tro.ung_ho: no answer" in out
    assert "note: zeta_extra is not a programme value" in out
    assert main([str(FIXTURES / "broken_yaml")]) == 1
    assert "cuu_tro.yml:7" in capsys.readouterr().err


def test_default_directory_follows_content_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.knowledge.programme_files import default_directory
    from bot.settings import get_settings

    monkeypatch.setenv("CONTENT_DIR", str(tmp_path / "content"))
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        assert default_directory() == tmp_path / "content" / "programmes"
    finally:
        get_settings.cache_clear()


# --- malformed data: the error names the file and the entry ------------------------------------

VALID_HEAD = "programme: cuu_tro\ntitle: Cứu trợ\nsummary: Tóm tắt.\n"

# (case id, file name, file text, expected line or None, programme, aspect, words in the reason)
# fmt: off
MALFORMED = [
    ("yaml-indent", "cuu_tro.yml",
     VALID_HEAD + "aspects:\n  gioi_thieu: Một câu.\n    lien_he: Sai.\n",
     6, None, None, "invalid YAML"),
    ("yaml-unclosed-quote", "cuu_tro.yml",
     VALID_HEAD + 'aspects:\n  gioi_thieu: "Chưa đóng\n  lien_he: Liên hệ.\n',
     None, None, None, "quoted scalar (line 5)"),
    ("yaml-tab", "cuu_tro.yml",
     VALID_HEAD + "aspects:\n\tgioi_thieu: Một câu.\n",
     5, None, None, "invalid YAML"),
    ("empty-file", "cuu_tro.yml", "# chỉ có chú thích\n", None, None, None, "empty"),
    ("not-a-mapping", "cuu_tro.yml", "- cuu_tro\n- Cứu trợ\n", 1, None, None, "mapping"),
    ("missing-programme", "cuu_tro.yml",
     "title: Cứu trợ\nsummary: Tóm tắt.\naspects:\n  gioi_thieu: Một câu.\n",
     1, None, None, "missing 'programme'"),
    ("programme-not-text", "cuu_tro.yml",
     "programme: 12\ntitle: Cứu trợ\nsummary: Tóm tắt.\naspects: {}\n",
     1, None, None, "'programme' must be text"),
    ("programme-not-file-name", "cuu_tro.yml",
     "programme: bau_cu\ntitle: Bầu cử\nsummary: Tóm tắt.\naspects:\n  gioi_thieu: Một câu.\n",
     1, "bau_cu", None, "expected 'cuu_tro'"),
    ("programme-bad-spelling", "Cuu-Tro.yml",
     "programme: Cuu-Tro\ntitle: Cứu trợ\nsummary: Tóm tắt.\naspects: {}\n",
     1, "Cuu-Tro", None, "lower-case ASCII"),
    ("missing-title", "cuu_tro.yml",
     "programme: cuu_tro\nsummary: Tóm tắt.\naspects:\n  gioi_thieu: Một câu.\n",
     None, "cuu_tro", None, "missing 'title'"),
    ("missing-aspects", "cuu_tro.yml", VALID_HEAD, None, "cuu_tro", None, "missing 'aspects'"),
    ("missing-summary", "cuu_tro.yml",
     "programme: cuu_tro\ntitle: Cứu trợ\naspects:\n  gioi_thieu: Một câu.\n",
     None, "cuu_tro", None, "missing 'summary'"),
    ("unknown-top-level-key", "cuu_tro.yml",
     VALID_HEAD + "aspect:\n  gioi_thieu: Một câu.\naspects: {}\n",
     4, "cuu_tro", None, "unknown key 'aspect'"),
    ("aspects-not-mapping", "cuu_tro.yml",
     VALID_HEAD + "aspects:\n  - gioi_thieu\n", 5, "cuu_tro", None, "must be a mapping"),
    ("unknown-aspect", "cuu_tro.yml",
     VALID_HEAD + "aspects:\n  gioi_thieu: Một câu.\n  dia_chi: Số nhà.\n",
     6, "cuu_tro", "dia_chi", "unknown aspect"),
    ("empty-answer", "cuu_tro.yml",
     VALID_HEAD + 'aspects:\n  gioi_thieu: Một câu.\n  ung_ho: ""\n',
     6, "cuu_tro", "ung_ho", "the answer is empty"),
    ("blank-answer", "cuu_tro.yml",
     VALID_HEAD + "aspects:\n  ung_ho: >-\n    \n  lien_he: Liên hệ.\n",
     5, "cuu_tro", "ung_ho", "the answer"),
    ("null-answer", "cuu_tro.yml",
     VALID_HEAD + "aspects:\n  thoi_gian:\n  lien_he: Liên hệ.\n",
     5, "cuu_tro", "thoi_gian", "must be text, found nothing"),
    ("list-answer", "cuu_tro.yml",
     VALID_HEAD + "aspects:\n  doi_tuong:\n    - hộ nghèo\n    - hộ cận nghèo\n",
     6, "cuu_tro", "doi_tuong", "must be text, found a list"),
    ("number-answer", "cuu_tro.yml",
     VALID_HEAD + "aspects:\n  thoi_gian: 2025\n", 5, "cuu_tro", "thoi_gian", "type int"),
    ("duplicate-aspect", "cuu_tro.yml",
     VALID_HEAD + "aspects:\n  ung_ho: Một.\n  lien_he: Hai.\n  ung_ho: Ba.\n",
     7, "cuu_tro", "ung_ho", "duplicate key 'ung_ho'"),
    ("unknown-placeholder", "cuu_tro.yml",
     VALID_HEAD + "aspects:\n  lien_he: Liên hệ {unit_contac}.\n",
     5, "cuu_tro", "lien_he", "unknown placeholder {unit_contac}"),
    ("keywords-not-list", "cuu_tro.yml",
     VALID_HEAD + "keywords: cứu trợ\naspects: {}\n", 4, "cuu_tro", None, "must be a list"),
]
# fmt: on


@pytest.mark.parametrize(
    ("file_name", "text", "line", "programme", "aspect", "reason"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_file_is_reported_with_file_and_entry(
    tmp_path: Path,
    file_name: str,
    text: str,
    line: int | None,
    programme: str | None,
    aspect: str | None,
    reason: str,
) -> None:
    (tmp_path / file_name).write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as info:
        load_knowledge_base(tmp_path)
    error = info.value
    message = str(error)
    assert error.path == tmp_path / file_name
    assert str(tmp_path / file_name) in message
    assert reason in message
    if line is not None:
        assert error.line == line
        assert f"{file_name}:{line}:" in message
    assert error.programme == programme
    if programme is not None:
        assert f"programme {programme!r}" in message
    assert error.aspect == aspect
    if aspect is not None:
        assert f"aspect {aspect!r}" in message


def test_static_broken_fixture_names_file_and_line() -> None:
    with pytest.raises(KnowledgeBaseError) as info:
        load_knowledge_base(FIXTURES / "broken_yaml")
    assert info.value.line == 7
    assert str(info.value).startswith(f"{FIXTURES / 'broken_yaml' / 'cuu_tro.yml'}:7: invalid YAML")


def test_duplicate_programme_names_both_files(tmp_path: Path) -> None:
    body = VALID_HEAD + "aspects:\n  gioi_thieu: Một câu.\n"
    (tmp_path / "cuu_tro.yml").write_text(body, encoding="utf-8")
    (tmp_path / "cuu_tro.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as info:
        load_knowledge_base(tmp_path)
    message = str(info.value)
    assert "duplicate programme" in message and "programme 'cuu_tro'" in message
    assert "cuu_tro.yml" in message and "cuu_tro.yaml" in message


@pytest.mark.parametrize("setup", ["missing", "empty", "only-other-files"])
def test_unusable_directory_is_named(tmp_path: Path, setup: str) -> None:
    directory = tmp_path / "programmes"
    if setup != "missing":
        directory.mkdir()
    if setup == "only-other-files":
        (directory / "README.md").write_text("không phải YAML", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match=re.escape(str(directory))):
        load_knowledge_base(directory)


def test_non_utf8_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "cuu_tro.yml").write_bytes("title: Cứu trợ\n".encode("utf-16"))
    with pytest.raises(KnowledgeBaseError, match=r"cuu_tro\.yml: not UTF-8"):
        load_knowledge_base(tmp_path)


def _menu_file(directory: Path, name: str, order: str) -> None:
    (directory / f"{name}.yml").write_text(
        f"programme: {name}\norder: {order}\ntitle: Thử\nsummary: Tóm tắt.\n"
        "aspects:\n  gioi_thieu: Là gì.\n", encoding="utf-8")


def test_the_menu_order_is_each_files_order(tmp_path: Path) -> None:
    _menu_file(tmp_path, "bau_cu", "2")
    _menu_file(tmp_path, "ban_tin", "1")
    (tmp_path / "aaa.yml").write_text(
        "programme: aaa\ntitle: Thử\nsummary: Tóm tắt.\naspects:\n  gioi_thieu: Là gì.\n",
        encoding="utf-8")
    assert known_programmes(tmp_path) == ("ban_tin", "bau_cu", "aaa")  # unordered ones last


@pytest.mark.parametrize("order", ["0", "-1", "hai", "1.5", "true"])
def test_a_menu_order_must_be_a_place(tmp_path: Path, order: str) -> None:
    _menu_file(tmp_path, "bau_cu", order)
    with pytest.raises(KnowledgeBaseError, match="'order' must be a whole number"):
        load_knowledge_base(tmp_path)


def test_two_programmes_cannot_share_a_place(tmp_path: Path) -> None:
    _menu_file(tmp_path, "ban_tin", "3")
    _menu_file(tmp_path, "bau_cu", "3")
    with pytest.raises(KnowledgeBaseError, match="already the place of 'ban_tin'"):
        load_knowledge_base(tmp_path)
