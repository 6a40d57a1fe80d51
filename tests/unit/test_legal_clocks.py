"""Legal clocks as data (issue 17): content/legal_deadlines.yml counted on content/calendar.yml."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.cases.legal_clocks import (
    citizen_limits,
    due_date,
    extension,
    next_step,
    schedule,
)
from bot.cases.legal_deadlines import LegalDeadlinesError, load_deadlines, parse_deadlines
from bot.cases.sla import load_calendar

CONTENT = Path(__file__).resolve().parents[2] / "content"
VN = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture(scope="module")
def table():
    return load_deadlines(CONTENT / "legal_deadlines.yml")


@pytest.fixture(scope="module")
def calendar():
    return load_calendar(CONTENT / "calendar.yml")


def test_the_shipped_file_loads_with_every_type(table) -> None:
    assert set(table.case_types) >= {"phan_anh", "kien_nghi", "khieu_nai", "to_cao"}
    assert table.case_type("khieu_nai").front_role == "forward_and_follow"
    assert table.case_type("phan_anh").front_role == "take_up"
    accept = table.case_type("khieu_nai").step("accept")
    assert (accept.limit, accept.unit, accept.article, accept.verified) == (10, "days", "27", True)
    assert table.citation(accept) == "Điều 27 Luật Khiếu nại 02/2011/QH13"


def test_khieu_nai_filed_the_friday_before_tet_2026(table, calendar) -> None:
    # Filed Friday 13/02/2026, 16:30 in Hà Nội. Acceptance (Luật Khiếu nại Điều 27): 10 calendar
    # days, counted from the day after: 14/02 is day 1 ... 23/02 is day 10. Tết Bính Ngọ in
    # content/calendar.yml is 14/02–22/02, so the count runs through the holiday (calendar days)
    # and ends on Monday 23/02, a working day: due 2026-02-23, no roll-forward needed.
    filed = datetime(2026, 2, 13, 16, 30, tzinfo=VN)
    due = next_step("khieu_nai", filed, (), calendar, deadlines=table)
    assert due is not None
    assert due.step_id == "accept"
    assert due.due_date == date(2026, 2, 23) == due.nominal_due_date
    assert (due.article, due.document, due.verified) == ("27", "luat_khieu_nai", True)


def test_a_moment_late_at_night_utc_counts_on_the_local_day(table, calendar) -> None:
    # 17:30 UTC on 12/02 is 00:30 on 13/02 in Việt Nam: the same case as above.
    filed = datetime(2026, 2, 12, 17, 30, tzinfo=ZoneInfo("UTC"))
    due = next_step("khieu_nai", filed, (), calendar, deadlines=table)
    assert due is not None and due.due_date == date(2026, 2, 23)


def test_calendar_days_ending_on_a_day_off_move_to_the_next_working_day(table, calendar) -> None:
    # Decision (Điều 28): 30 days after acceptance on 13/02/2026 -> Sunday 15/03 -> Monday 16/03.
    due = next_step("khieu_nai", {"accepted": date(2026, 2, 13)}, ["accept"], calendar,
                    deadlines=table)
    assert due is not None and due.step_id == "decide"
    assert due.nominal_due_date == date(2026, 3, 15)
    assert due.due_date == date(2026, 3, 16)
    step = table.case_type("khieu_nai").step("decide")
    assert due_date(step, date(2026, 2, 13), calendar, roll_to_working_day=False) == (
        date(2026, 3, 15), date(2026, 3, 15))


def test_to_cao_notice_in_working_days_skips_30_4_and_1_5(table, calendar) -> None:
    # Acceptance decided Tuesday 28/04/2026. Notify within 5 working days (Luật Tố cáo Điều 29):
    # Wed 29/04 = 1; Thu 30/04 and Fri 01/05 are holidays; Sat 02, Sun 03 rest;
    # Mon 04/05 = 2, Tue 05 = 3, Wed 06 = 4, Thu 07/05 = 5 -> due 2026-05-07.
    due = next_step("to_cao", {"acceptance_decision": datetime(2026, 4, 28, 9, tzinfo=VN)},
                    (), calendar, deadlines=table)
    assert due is not None
    assert due.step_id == "notify_accepted"
    assert due.due_date == date(2026, 5, 7)
    assert (due.unit, due.limit, due.article, due.verified) == ("working_days", 5, "29", True)


def test_working_days_also_skip_gio_to_and_count_extra_working_days(table, calendar) -> None:
    step = table.case_type("to_cao").step("notify_accepted")
    # Fri 24/04/2026: Mon 27/04 is Giỗ Tổ (nghỉ bù): Tue 28 = 1, Wed 29 = 2, Mon 04/05 = 3,
    # Tue 05 = 4, Wed 06/05 = 5.
    assert due_date(step, date(2026, 4, 24), calendar) == (date(2026, 5, 6), date(2026, 5, 6))
    # Wed 07/01/2026: Thu 08 = 1, Fri 09 = 2, Sat 10/01 is a làm-bù day = 3, Mon 12 = 4, Tue 13 = 5.
    assert due_date(step, date(2026, 1, 7), calendar) == (date(2026, 1, 13), date(2026, 1, 13))


def test_citizens_see_only_verified_numbers_staff_see_everything_flagged(table, calendar) -> None:
    citizen = schedule("khieu_nai", date(2026, 2, 13), calendar, audience="citizen",
                       deadlines=table)
    assert [s.step_id for s in citizen] == ["accept", "decide"]
    assert all(s.verified and s.limit is not None for s in citizen)
    staff = schedule("khieu_nai", date(2026, 2, 13), calendar, audience="staff", deadlines=table)
    ids = [s.step_id for s in staff]
    assert ids[0] == "forward" and "follow_up" in ids
    forward = staff[0]
    assert forward.due_date is None and not forward.verified and not forward.citizen_visible
    # A phản ánh has no verified number at all: nothing for the citizen, four flagged for staff.
    assert next_step("phan_anh", date(2026, 2, 13), (), calendar, deadlines=table) is None
    flagged = next_step("phan_anh", date(2026, 2, 13), (), calendar, audience="staff",
                        deadlines=table)
    assert flagged is not None and flagged.step_id == "acknowledge" and not flagged.verified


def test_conditions_pick_the_most_specific_variant(table, calendar) -> None:
    def decide(*conditions: str) -> str:
        due = next_step("khieu_nai", date(2026, 3, 2), ["accept"], calendar,
                        conditions=conditions, deadlines=table)
        assert due is not None
        return f"{due.step_id}:{due.limit}"

    assert decide() == "decide:30"
    assert decide("complex") == "decide_complex:45"
    assert decide("remote_area", "complex") == "decide_remote_complex:60"
    assert decide("second_complaint", "remote_area", "complex") == "decide_second_remote_complex:70"
    # A done variant counts for its slot: after decide_complex nothing is left for citizens.
    assert next_step("khieu_nai", date(2026, 3, 2), ["accept", "decide_complex"], calendar,
                     deadlines=table) is None
    with pytest.raises(ValueError, match="unknown conditions"):
        decide("urgent")


def test_extensions_and_citizen_limits_are_not_next_steps(table, calendar) -> None:
    staff = schedule("to_cao", date(2026, 6, 1), calendar, conditions=["complex"],
                     audience="staff", deadlines=table)
    assert not any(s.step_id.startswith("decide_extended") for s in staff)
    extended = extension("to_cao", "decide_extended_complex", date(2026, 7, 1), calendar,
                         deadlines=table)
    assert extended.due_date == date(2026, 7, 31)
    assert [s.id for s in citizen_limits("khieu_nai", deadlines=table)][0] == "time_to_complain"


def test_events_not_yet_happened_have_no_date(table, calendar) -> None:
    steps = schedule("khieu_nai", {"complaint_received_by_competent_body": date(2026, 2, 13)},
                     calendar, audience="citizen", deadlines=table)
    assert [(s.step_id, s.due_date) for s in steps] == [
        ("accept", date(2026, 2, 23)), ("decide", None)]


def _shipped() -> dict:
    return yaml.safe_load((CONTENT / "legal_deadlines.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["case_types"]["khieu_nai"]["steps"][4].update(limit="ten"),
         r"case_types\.khieu_nai\.steps\[4\] \(accept\): limit must be a whole number"),
        (lambda d: d["case_types"]["to_cao"]["steps"][2].update(unit="weeks"),
         r"case_types\.to_cao\.steps\[2\] \(notify_accepted\): unit must be one of"),
        (lambda d: d["case_types"]["to_cao"]["steps"][0].update(unit="days"),
         r"\(forward\): unit must be null when limit is null"),
        (lambda d: d["case_types"]["phan_anh"]["steps"][0].pop("verified"),
         r"case_types\.phan_anh\.steps\[0\] \(acknowledge\): missing 'verified'"),
        (lambda d: d["case_types"]["khieu_nai"]["steps"][5].update(document="luat_moi"),
         r"\(decide\): document 'luat_moi' is not a key"),
        (lambda d: d["case_types"]["khieu_nai"]["steps"][6].update(applies_when=["urgent"]),
         r"\(decide_complex\): unknown applies_when"),
        (lambda d: d["case_types"]["kien_nghi"].update(front_role="decide"),
         r"case_types\.kien_nghi: front_role must be one of"),
        (lambda d: d["case_types"]["kien_nghi"]["steps"][1].update(id="acknowledge"),
         r"case_types\.kien_nghi\.steps\[1\] \(acknowledge\): duplicate step id"),
    ],
)
def test_a_bad_entry_is_named(change, message, tmp_path) -> None:
    data = _shipped()
    change(data)
    path = tmp_path / "legal_deadlines.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(LegalDeadlinesError, match=message) as info:
        load_deadlines(path)
    assert str(path) in str(info.value)


def test_broken_yaml_names_the_file(tmp_path) -> None:
    path = tmp_path / "legal_deadlines.yml"
    path.write_text("case_types:\n  to_cao: [unclosed\n", encoding="utf-8")
    with pytest.raises(LegalDeadlinesError, match="legal_deadlines.yml"):
        load_deadlines(path)
    with pytest.raises(LegalDeadlinesError, match="non-empty mapping of case types"):
        parse_deadlines({"documents": {}}, "x.yml")
