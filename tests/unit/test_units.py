"""The unit tree: loading the YAML, matching what citizens type, syncing into the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db.engine import session_scope
from bot.db.models import Unit
from bot.knowledge.unit_sync import sync_units
from bot.knowledge.units import UnitsFileError, UnitTree, fold, load_units

SAMPLE = Path(__file__).resolve().parents[2] / "content" / "units.sample.yml"

#: A tree with names that share beginnings, as Hà Nội's real ones do.
CLOSE_NAMES = """
units:
  - code: hn
    name: Thành phố Hà Nội
    short_name: thành phố Hà Nội
    children:
      - {code: p_hoang_mai, name: phường Hoàng Mai, aliases: [hoang mai]}
      - {code: p_hoang_liet, name: phường Hoàng Liệt, aliases: [hoang liet]}
      - {code: p_hoan_kiem, name: phường Hoàn Kiếm, aliases: [hoan kiem]}
      - {code: p_lang, name: phường Láng, aliases: [lang]}
      - {code: x_lang_a, name: xã Láng A, aliases: [lang a]}
      - {code: p_tay_ho, name: phường Tây Hồ}
      - {code: p_tay_mo, name: phường Tây Mỗ}
"""


@pytest.fixture(scope="module")
def sample() -> UnitTree:
    return load_units(SAMPLE)


@pytest.fixture
def close_names(tmp_path: Path) -> UnitTree:
    path = tmp_path / "units.yml"
    path.write_text(CLOSE_NAMES, encoding="utf-8")
    return load_units(path)


def test_sample_tree_shape(sample: UnitTree) -> None:
    assert sample.sample is True
    assert sample.province().code == "hn"
    assert len(sample) == 16
    assert [u.code for u in sample.descendants("hn")][:3] == [
        "p_ba_dinh",
        "p_hoan_kiem",
        "p_cua_nam",
    ]
    assert len(sample.descendants("hn")) == 15
    assert sample.descendants("p_lang") == ()
    assert [u.code for u in sample.ancestors("p_lang")] == ["hn"]
    assert sample["p_ba_dinh"].contact["hours"].startswith("Sáng 8h00")
    assert sample["p_lang"].contact == {}
    with pytest.raises(KeyError):
        sample.descendants("nowhere")


def test_default_path_comes_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.settings import get_settings

    path = tmp_path / "mine.yml"
    path.write_text(CLOSE_NAMES, encoding="utf-8")
    monkeypatch.setenv("UNITS_FILE", str(path))
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        assert load_units().source == path
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("typed", "status", "codes"),
    [
        ("phuong lang", "one", ["p_lang"]),
        ("P. Láng", "one", ["p_lang"]),
        ("P.Láng", "one", ["p_lang"]),
        ("PHƯỜNG LÁNG", "one", ["p_lang"]),
        ("ba đình", "one", ["p_ba_dinh"]),
        ("Ba Dinh", "one", ["p_ba_dinh"]),
        ("quận Ba Đình", "one", ["p_ba_dinh"]),
        ("Cau Giay", "one", ["p_cau_giay"]),
        ("Cầu Giấy!!!", "one", ["p_cau_giay"]),
        ("UBMTTQ phường Cầu Giấy", "one", ["p_cau_giay"]),
        ("x. Sóc Sơn", "one", ["x_soc_son"]),
        ("xa soc son", "one", ["x_soc_son"]),
        ("HBT", "one", ["p_hai_ba_trung"]),
        ("Hà Nội", "one", ["hn"]),
        ("TP. Hà Nội", "one", ["hn"]),
        ("thanh pho ha noi", "one", ["hn"]),
        # inside an address: the ward named after "phường", not the street, not the city
        ("ngõ 5 phố Láng Hạ, phường Láng, Hà Nội", "one", ["p_lang"]),
        ("so 12 ngo 34 cau giay ha noi", "one", ["p_cau_giay"]),
        ("số 3 đường Láng, Đống Đa", "ambiguous", ["p_dong_da", "p_lang"]),
        # fragments: the citizen is asked to choose or confirm
        ("Hoàng", "ambiguous", ["p_hoang_mai"]),
        ("hoan", "ambiguous", ["p_hoan_kiem", "p_hoang_mai"]),
        ("dong", "ambiguous", ["p_dong_da", "x_dong_anh"]),
        ("Đông", "ambiguous", ["x_dong_anh"]),  # accents narrow it down
        # unknown
        ("làng Mai Dịch", "none", []),  # "làng" (village) is not "Láng"
        ("Đà Nẵng", "none", []),
        ("ho", "none", []),  # too short to guess from
        ("", "none", []),
        ("   ...  ", "none", []),
        (None, "none", []),
    ],
)
def test_resolve_sample(sample: UnitTree, typed: str | None, status: str, codes: list[str]) -> None:
    result = sample.resolve(typed)
    assert (result.status, [u.code for u in result.candidates]) == (status, codes)
    assert (result.unit is not None) == (status == "one")


@pytest.mark.parametrize(
    ("typed", "status", "codes"),
    [
        ("Hoàng", "ambiguous", ["p_hoang_mai", "p_hoang_liet"]),
        ("hoang", "ambiguous", ["p_hoang_mai", "p_hoang_liet"]),
        ("Hoàng Mai", "one", ["p_hoang_mai"]),
        ("hoang liet", "one", ["p_hoang_liet"]),
        ("Láng", "one", ["p_lang"]),  # exact beats "Láng A" starting the same way
        ("lang a", "one", ["x_lang_a"]),
        ("Tây", "ambiguous", ["p_tay_ho", "p_tay_mo"]),
        ("tay ho", "one", ["p_tay_ho"]),
        ("Tây Mỗ", "one", ["p_tay_mo"]),
        ("Tay Mo", "one", ["p_tay_mo"]),
    ],
)
def test_resolve_close_names(
    close_names: UnitTree, typed: str, status: str, codes: list[str]
) -> None:
    result = close_names.resolve(typed)
    assert (result.status, [u.code for u in result.candidates]) == (status, codes)


def test_fold() -> None:
    assert fold("Đống Đa, HOÀNG MAI, Nghĩa Đô") == "dong da, hoang mai, nghia do"


BAD_FILES = [
    ("units: [\n  - code: hn\n    name: x\n  bad indent", "invalid YAML"),
    ("- just\n- a list\n", "non-empty 'units' list"),
    ("units: []\n", "non-empty 'units' list"),
    ("units:\n  - name: Hà Nội\n", "units[0]: 'code'"),
    ("units:\n  - code: Hà Nội\n    name: x\n", "'code' must be lower-case ASCII"),
    ("units:\n  - code: hn\n", "units[0] (hn): 'name' is required"),
    (
        "units:\n  - code: hn\n    name: HN\n    children:\n      - {code: a, name: A}\n"
        "      - {code: a, name: B}\n",
        "units[0].children[1]: duplicate unit code 'a'",
    ),
    ("units:\n  - {code: a, name: A}\n  - {code: b, name: B}\n", "exactly one top-level unit"),
    ("units:\n  - {code: hn, name: HN, aliases: hanoi}\n", "'aliases' must be a list"),
    ("units:\n  - {code: hn, name: HN, telegram_chat_id: abc}\n", "'telegram_chat_id'"),
    ("units:\n  - {code: hn, name: HN, children: {code: x}}\n", "'children' must be a list"),
]


@pytest.mark.parametrize(("content", "message"), BAD_FILES)
def test_malformed_files_name_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "broken-units.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UnitsFileError) as info:
        load_units(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(UnitsFileError, match="nope.yml"):
        load_units(tmp_path / "nope.yml")


# --------------------------------------------------------------------------- database


def _units(engine: Engine) -> dict:
    with session_scope(engine) as session:
        rows = session.execute(select(Unit)).scalars().all()
        return {u.code: (u.parent_code, u.active, u.telegram_chat_id, u.name) for u in rows}


def test_sync_units_upserts_and_keeps_linked_chats(
    db_engine: Engine, sample: UnitTree, close_names: UnitTree
) -> None:
    with session_scope(db_engine) as session:
        report = sync_units(session, sample)
    assert (report.added, report.updated, report.deactivated) == (16, 0, 0)
    stored = _units(db_engine)
    assert stored["p_lang"][:3] == ("hn", True, None)
    assert stored["hn"][0] is None

    with session_scope(db_engine) as session:  # the linking command sets a chat id
        session.get(Unit, "p_lang").telegram_chat_id = -1001234567890
    with session_scope(db_engine) as session:
        report = sync_units(session, sample)
    assert (report.added, report.updated, report.deactivated) == (0, 0, 0)
    assert _units(db_engine)["p_lang"][2] == -1001234567890

    with session_scope(db_engine) as session:  # another file: new units, renamed, dropped
        report = sync_units(session, close_names)
    stored = _units(db_engine)
    # New: Hoàng Liệt, Láng A, Tây Hồ, Tây Mỗ. Renamed: the four the sample also has.
    assert (report.added, report.updated, report.deactivated) == (4, 4, 12)
    assert stored["hn"][3] == "Thành phố Hà Nội"
    assert stored["p_lang"][2] == -1001234567890  # still linked
    assert stored["p_ba_dinh"][1] is False  # kept for old cases, but inactive
    assert sorted(c for c, row in stored.items() if row[1]) == sorted(u.code for u in close_names)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Tôi muốn phản ánh: đống rác ở phường Láng 3 ngày chưa được dọn, bốc mùi", "p_lang"),
        ("cong thoat nuoc o p. cau giay bi vo 2 hom nay roi", "p_cau_giay"),
        ("đường ở phường Láng, Hà Nội ngập", "p_lang"),  # the ward, not also its city
        # A ward's name without "phường/xã/p." does not place a case: "láng" is also a word.
        ("sân bóng bị láng xi măng trơn trượt", None),
        ("rác ở phường Láng và phường Cầu Giấy", None),  # two wards: ask, do not guess
        ("đống rác đầu ngõ 3 ngày chưa dọn", None),
    ],
)
def test_marked_finds_only_a_prefixed_name(sample: UnitTree, text: str, code: str | None) -> None:
    unit = sample.marked(text)
    assert (unit.code if unit else None) == code
