"""Same-issue clusters (issue 15): signatures and matching (pure), linking and splitting in the
database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from itertools import count

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.cases.clusters import (
    THRESHOLD,
    CaseSignature,
    Place,
    best_match,
    place_relation,
    score,
    signature,
)
from bot.cases.linking import (
    cluster_members,
    cluster_size,
    forget_case,
    link_case,
    split_case,
)
from bot.db.engine import session_scope
from bot.db.models import Case, CaseClusterKey, CaseEvent, CaseKind, CaseStatus


def sig(text: str, category: str | None = "ha_tang", location: str | None = None) -> CaseSignature:
    return signature(text, category, "p_lang", location=location)


def matches(a: str, b: str, **kw: str) -> bool:
    return score(sig(a, **kw), sig(b, **kw)) >= THRESHOLD


# --------------------------------------------------------------------------- places


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ngõ 5 phố Láng Hạ bị ngập", {("alley", "5"), ("street", "lang ha")}),
        ("ngo 5 lang ha ngap", {("alley", "5")}),
        ("ngách 5/12 hẻm 45", {("alley", "5/12"), ("alley", "45")}),
        ("tổ dân phố 12 Tân Mai", {("group", "12")}),
        ("TDP12 chậm trợ cấp", {("group", "12")}),
        ("tdp số 12", {("group", "12")}),
        ("Số nhà 35 ngõ 80 Tân Mai", {("house", "35"), ("alley", "80"), ("street", "tan mai")}),
        ("thôn Đông mất điện", {("village", "dong")}),
        ("thon dong mat dien", {("village", "dong")}),
        ("xóm 3 thôn Đoài", {("hamlet", "3"), ("village", "doai")}),
        ("Tòa B2 mất nước", {("site:building", "b2")}),
        ("Khu tập thể Vĩnh Hồ", {("site:estate", "vinh ho")}),
        ("gầm cầu vượt Hoàng Cầu", {("site:bridge", "hoang cau")}),
        ("ngõ Quỳnh dây điện chằng chịt", {("alley", "quynh")}),
    ],
)
def test_places_are_read_in_their_usual_spellings(text: str, expected: set) -> None:
    got = {(p.kind, p.value) for p in sig(text).hard_places}
    assert expected <= got, got


@pytest.mark.parametrize(
    "text",
    [
        "Cho 5 hộ dân xin hỗ trợ",  # "cho", not "chợ"
        "Đường làng bị ổ gà",  # the village road, not "đường Láng"
        "Mặt đường xuống cấp",  # the roadway, not a street called "xuống"
        "Mẹ tôi 82 tuổi chưa nhận trợ cấp",
        "Đề nghị phường kiểm tra",
    ],
)
def test_everyday_words_are_not_places(text: str) -> None:
    assert sig(text).hard_places == ()


def test_qualified_places() -> None:
    a = Place("group", "12", "tan mai")
    assert a.compatible(Place("group", "12"))
    assert not a.compatible(Place("group", "12", "tuong mai"))
    assert Place("alley", "5").compatible(Place("alley", "5/12"))
    assert not Place("alley", "5/12").compatible(Place("alley", "5/14"))
    assert Place("street", "nct").compatible(Place("street", "nguyen chi thanh"))


# --------------------------------------------------------------------------- matching


def test_same_place_and_problem_matches_with_and_without_diacritics() -> None:
    a = "Ngõ 5 phố Láng Hạ cứ mưa to là ngập, nước tràn vào nhà dân."
    assert matches(a, "ngo 5 lang ha ngap ung lau qua roi, mua xong nuoc van chua rut")
    assert matches(a, "Hẻm số 5 Láng Hạ lại ngập úng sau trận mưa")
    assert matches(a, "Trận mưa tối qua lại ngập nặng", location="ngõ 5 Láng Hạ")


def test_another_explicit_place_never_matches_the_same_complaint() -> None:
    text = "Ngõ {} Láng Hạ bị ngập nặng mỗi khi mưa, đề nghị nạo vét cống."
    assert score(sig(text.format(5)), sig(text.format(5))) > 0.9
    assert score(sig(text.format(5)), sig(text.format(7))) == 0.0
    assert score(sig("TDP 12 Tân Mai chậm trợ cấp người cao tuổi"),
                 sig("TDP 12 Tương Mai chậm trợ cấp người cao tuổi")) == 0.0
    assert score(sig("Tòa B2 mất nước hai ngày"), sig("Tòa B3 mất nước hai ngày")) == 0.0


def test_another_house_is_another_place_for_a_point_problem() -> None:
    a = sig("Nhà số 35 ngõ 80 xây dựng trái phép lên tầng 5", "dat_dai_xay_dung")
    b = sig("Nhà số 12 ngõ 80 xây dựng trái phép lên tầng 5", "dat_dai_xay_dung")
    assert place_relation(a, b) == 0.0
    # …but neighbours of one flooded alley report one flood
    assert matches("Nhà số 10 ngõ 5 bị ngập nước khi mưa", "Nhà số 14 ngõ 5 bị ngập nước khi mưa")


def test_another_problem_at_the_same_place_does_not_match() -> None:
    assert not matches("Ngõ 5 Láng Hạ bị ngập nặng mỗi khi mưa",
                       "Đèn đường ngõ 5 Láng Hạ hỏng cả tuần, tối om")
    assert not matches("Tòa B2 mất nước sinh hoạt ba ngày", "Thang máy tòa B2 hỏng cả tuần")


def test_place_less_cases_need_more_than_the_kind_of_problem() -> None:
    assert matches("Trợ cấp người khuyết tật tháng 10 chưa được chi trả",
                   "tro cap nguoi khuyet tat 2 thang nay chua nhan duoc",
                   category="chinh_sach_xa_hoi")
    assert not matches("Trợ cấp người khuyết tật tháng 10 chưa được chi trả",
                       "Trợ cấp người cao tuổi trên 80 tháng này chưa được chi trả",
                       category="chinh_sach_xa_hoi")


def test_a_person_s_name_is_kept_nowhere() -> None:
    s = sig("Nhà ông Nguyễn Văn Hùng ở ngõ 5 xả rác ra đường")
    stored = json.dumps(s.to_json(), ensure_ascii=False)
    assert "hung" not in stored and "nguyen" not in stored


def test_signature_round_trips_through_json() -> None:
    s = sig("Ngõ 5 phố Láng Hạ bị ngập, TDP 3", location="ngõ 5 Láng Hạ")
    again = CaseSignature.from_json(json.loads(s.dumps()))
    assert again.places == s.places and again.concepts == s.concepts
    assert again.keys() == s.keys() and again.lookup() == s.lookup()
    assert abs(score(again, s) - score(s, s)) < 1e-3


def test_best_match_picks_the_highest_above_the_threshold() -> None:
    new = sig("ngõ 5 Láng Hạ ngập sau mưa")
    candidates = [
        (1, sig("Ngõ 7 Láng Hạ ngập sau mưa")),
        (2, sig("Ngõ 5 Láng Hạ đèn đường hỏng")),
        (3, sig("Ngõ 5 Láng Hạ ngập sâu sau mưa, nước vào nhà")),
    ]
    found = best_match(new, candidates)
    assert found is not None and found[0] == 3
    assert best_match(new, candidates[:2]) is None


def test_keys_meet_whichever_case_came_first() -> None:
    """The look-up keys of one case reach the stored keys of a case it may match, both ways."""
    pairs = [
        ("Ngõ 5 Láng Hạ ngập", "ngo 5 lang ha ngap nuoc"),
        ("Đường Lĩnh Nam đoạn qua chợ Mai Động nhiều ổ gà", "pho linh nam nhieu o ga"),
        ("Trợ cấp khuyết tật chậm", "Tổ 5 trợ cấp khuyết tật chậm"),
    ]
    for a, b in pairs:
        sa, sb = sig(a), sig(b)
        assert set(sa.lookup()) & set(sb.keys()), (a, b)
        assert set(sb.lookup()) & set(sa.keys()), (a, b)


# --------------------------------------------------------------------------- database

_refs = count(1)


def _case(session: Session, text: str, *, unit: str = "p_lang", category: str = "ha_tang",
          status: CaseStatus = CaseStatus.NEW) -> Case:
    case = Case(ref_code=f"KN-TEST-{next(_refs):05d}", kind=CaseKind.PETITION, category=category,
                content=text, unit_code=unit, channel="web", channel_user_id="u", status=status)
    session.add(case)
    session.flush()
    return case


def test_link_and_split_in_the_database(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        first = _case(session, "Ngõ 5 phố Láng Hạ cứ mưa là ngập, nước tràn vào nhà.")
        assert link_case(session, first) is None
        other_place = _case(session, "Ngõ 7 phố Láng Hạ cứ mưa là ngập, nước tràn vào nhà.")
        assert link_case(session, other_place) is None
        other_unit = _case(session, "ngo 5 lang ha mua la ngap", unit="p_cau_giay")
        assert link_case(session, other_unit) is None
        second = _case(session, "ngo 5 lang ha mua xong la ngap het, nuoc tran vao nha")
        assert link_case(session, second) == first.id
        third = _case(session, "Hẻm 5 Láng Hạ lại ngập úng sau mưa")
        assert link_case(session, third) == first.id
        ids = (first.id, second.id, third.id)

    with session_scope(db_with_units) as session:
        assert [c.id for c in cluster_members(session, ids[0])] == list(ids)
        assert cluster_size(session, ids[0]) == 3
        assert session.get(Case, ids[0]).signature["places"]
        events = session.execute(
            select(CaseEvent.action).where(CaseEvent.case_id == ids[1])).scalars().all()
        assert "cluster_linked" in events
        # the case that started the cluster leaves: the oldest remaining member names it
        assert split_case(session, ids[0]) == ids[0]
        assert session.get(Case, ids[0]).cluster_id is None
        assert [c.cluster_id for c in cluster_members(session, ids[1])] == [ids[1], ids[1]]
        # a split case is never linked back into the cluster it left
        assert link_case(session, session.get(Case, ids[0])) is None
        # a cluster left with one case dissolves
        assert split_case(session, ids[2]) == ids[1]
        assert session.get(Case, ids[1]).cluster_id is None
        assert split_case(session, ids[1]) is None


def test_closed_cases_are_not_joined(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        done = _case(session, "Đèn đường ngõ 9 Láng Hạ hỏng, tối om", status=CaseStatus.RESOLVED)
        link_case(session, done)
        new = _case(session, "den duong ngo 9 lang ha hong toi om")
        assert link_case(session, new) is None


def test_forget_case_drops_what_came_from_the_text(db_with_units: Engine) -> None:
    with session_scope(db_with_units) as session:
        case = _case(session, "Ngõ 11 Láng Hạ rác thải bốc mùi")
        link_case(session, case)
        assert "#rubbish" in session.get(Case, case.id).topic_terms  # what the digest counts
        forget_case(session, case.id)
        session.expire_all()
        assert session.get(Case, case.id).signature is None
        assert session.get(Case, case.id).topic_terms is None
        assert session.execute(select(CaseClusterKey).where(
            CaseClusterKey.case_id == case.id)).first() is None


# --------------------------------------------------------------------------- reading rules (2)


def places_of(text: str, location: str | None = None) -> set[tuple[str, str, str]]:
    return {(p.kind, p.value, p.qualifier) for p in sig(text, location=location).places}


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("Kim Ngưu", ("street", "kim nguu", "")),
        ("kim nguu", ("street", "kim nguu", "")),
        ("Xã Đàn đoạn gần ga", ("street", "xa dan", "")),  # "Xã" is part of the name here
    ],
)
def test_a_bare_location_line_is_the_street_it_names(location: str, expected: tuple) -> None:
    assert expected in places_of("mưa là ngập", location)


def test_a_ward_in_the_location_line_is_not_a_street() -> None:
    assert not any(kind == "street" for kind, _, _ in places_of("mưa là ngập", "phường Kim Liên"))


def test_a_bare_location_meets_the_same_street_named_in_another_case() -> None:
    a = sig("lại ngập rồi mọi người ơi", location="Kim Ngưu")
    b = sig("Phố Kim Ngưu ngập sâu sau mưa, nước vào nhà")
    assert place_relation(a, b) == 1.0  # a shared place, not a place on one side only
    assert score(a, b) >= THRESHOLD


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("ngo12 hang bot", ("alley", "12", "hang bot")),  # "hang" is not "hàng" here
        ("38 to hien thanh", ("house", "38", "to hien thanh")),  # a leading house number
        ("đường kim ngưu", ("street", "kim nguu", "")),  # lowercase, accented
        ("duong kim nguu doan gan cau", ("street", "kim nguu", "")),
    ],
)
def test_the_location_line_is_all_place(location: str, expected: tuple) -> None:
    assert expected in places_of("cống bị tắc", location)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("đg Tô Hiến Thành ngập", ("street", "to hien thanh", "")),
        ("dg To Hien Thanh ngap", ("street", "to hien thanh", "")),
        ("Đoạn Kim Ngưu gần số 9 ngập sâu", ("street", "kim nguu", "")),
        ("công trình 38 Tô Hiến Thành thi công ban đêm", ("house", "38", "to hien thanh")),
        ("xe tải phá đường liên thôn Phú Mỹ", ("street", "phu my", "")),
        ("xe tải phá tuyến đường liên thôn thuộc Phú Mỹ", ("street", "phu my", "")),
        ("cv Thống Nhất có người tụ tập", ("site:park", "thong nhat", "")),
        ("K12 Lê Duẩn ngập", ("alley", "12", "le duan")),
        ("k12/4 le duan ngap", ("alley", "12/4", "le duan")),
    ],
)
def test_more_place_spellings(text: str, expected: tuple) -> None:
    assert expected in places_of(text)


def test_a_lone_k_is_not_an_alley_and_doan_needs_a_name() -> None:
    assert not any(kind == "alley" for kind, _, _ in places_of("k 5 ngày nay chưa có nước"))
    assert not any(kind == "street" for kind, _, _ in places_of("đoạn giữa phố bị ngập"))


def test_accents_are_judged_on_the_text_not_the_location() -> None:
    assert "flood" in sig("dg Kim Nguu ngap tu toi qua", location="đg Kim Ngưu gần chợ").concepts


def test_a_name_cut_to_its_initial_is_the_same_name() -> None:
    a = sig("H.Bột ngập ko đi nổi", location="H.Bột")
    b = sig("Phố Hàng Bột ngập sâu sau mưa")
    assert place_relation(a, b) > 0.0
    assert score(a, b) >= THRESHOLD
    # one full syllable must agree: "T.Mai" is not "Tân Lập"
    assert not Place("street", "t mai").compatible(Place("street", "tan lap"))


def test_pavement_alone_is_where_not_encroachment() -> None:
    assert "encroach" not in sig("Nước tràn cả lên vỉa hè phố Kim Ngưu").concepts
    assert "encroach" in sig("Quán bia chiếm hết vỉa hè phố Kim Ngưu").concepts
    flooded = sig("Phố Kim Ngưu ngập sâu, nước tràn lên vỉa hè")
    beer = sig("Quán bia số 12 phố Kim Ngưu lấn chiếm vỉa hè")
    assert score(flooded, beer) < THRESHOLD


def test_a_quarter_word_makes_another_place() -> None:
    upper = Place("alley", "40", "phu my ha")
    plain = Place("alley", "40", "phu my")
    assert not upper.compatible(plain)  # "Phú Mỹ Hạ" is not "Phú Mỹ"
    assert Place("street", "linh").compatible(Place("street", "linh nam"))  # a name cut short
    assert Place("street", "phu my").compatible(Place("street", "phu my moi"))


def test_a_bare_group_gives_way_to_the_named_one() -> None:
    # in the text "hang" may be "hàng" (no name read), in the location line it is the name
    a = sig("to 8 hang chuoi den duong hong", location="to 8 hang chuoi")
    assert {(p.kind, p.value, p.qualifier) for p in a.places} == {("group", "8", "hang chuoi")}
    b = sig("Tổ 8 Hàng Bài đèn đường hỏng hết")
    assert place_relation(a, b) == 0.0


def test_a_named_area_village_or_site_meets_the_street_of_that_name_by_key() -> None:
    for street in (sig("mất điện liên tục, tủ lạnh hỏng hết", location="Kim Liên"),
                   sig("Phố Kim Liên mất điện liên tục")):
        _meet_by_key(street)


def _meet_by_key(street: CaseSignature) -> None:
    for other in ("Mất điện cả khu Kim Liên chỗ ngõ 7, ngày 3 lần",
                  "Chung cư Kim Liên mất điện cả tối", "thôn Kim Liên mất điện cả tối"):
        named = sig(other)
        assert set(street.lookup()) & set(named.keys()), other
        assert set(named.lookup()) & set(street.keys()), other
