"""Read side of the console and API: the filtered queue, its CSV export, the overview figures.

Every query is limited to the unit codes the caller may see (``casework.visible_unit_codes``);
nothing here writes.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from bot.cases.casework import STATUS_LABELS
from bot.db.models import (
    TERMINAL_STATUSES,
    Case,
    CaseEvent,
    CaseKind,
    CaseStatus,
    Staff,
)
from bot.db.refcodes import normalise_ref_code

PER_PAGE = 50
MAX_PER_PAGE = 200
CSV_MAX_ROWS = 50_000
#: The ``status`` filter value meaning "not finished yet".
OPEN = "open"
_TERMINAL_VALUES = tuple(s.value for s in TERMINAL_STATUSES)


@dataclass(frozen=True)
class CaseFilter:
    """The queue's filters, read leniently from a query string (bad values are ignored)."""

    status: str = ""  # "", "open", or a CaseStatus value
    category: str = ""
    unit: str = ""
    overdue: bool = False
    mine: bool = False
    q: str = ""
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> CaseFilter:
        status = (query.get("status") or "").strip()
        if status not in {OPEN, *(s.value for s in CaseStatus)}:
            status = ""
        try:
            page = max(1, min(100_000, int(query.get("page") or 1)))
        except ValueError:
            page = 1
        try:
            per_page = max(1, min(MAX_PER_PAGE, int(query.get("per_page") or PER_PAGE)))
        except ValueError:
            per_page = PER_PAGE
        return cls(
            status=status,
            category=(query.get("category") or "").strip()[:64],
            unit=(query.get("unit") or "").strip()[:64],
            overdue=_flag(query.get("overdue")),
            mine=_flag(query.get("mine")),
            q=(query.get("q") or "").strip()[:200],
            page=page,
            per_page=per_page,
        )

    def query_string(self, **changes: Any) -> str:
        """The filters as a query string (defaults left out), e.g. for pager and CSV links."""
        f = replace(self, **changes)
        pairs = [
            ("status", f.status),
            ("category", f.category),
            ("unit", f.unit),
            ("overdue", "1" if f.overdue else ""),
            ("mine", "1" if f.mine else ""),
            ("q", f.q),
            ("page", str(f.page) if f.page != 1 else ""),
            ("per_page", str(f.per_page) if f.per_page != PER_PAGE else ""),
        ]
        return urlencode([(k, v) for k, v in pairs if v])


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def is_overdue(case: Case, now: datetime) -> bool:
    return (
        case.sla_due_at is not None
        and case.sla_due_at < now
        and CaseStatus(case.status) not in TERMINAL_STATUSES
    )


def _filtered(
    stmt: Select, f: CaseFilter, staff_id: int, visible: Iterable[str], now: datetime
) -> Select:
    codes = sorted(set(visible))
    if f.unit:
        codes = [c for c in codes if c == f.unit]
    stmt = stmt.where(Case.unit_code.in_(codes))
    if f.status == OPEN:
        stmt = stmt.where(Case.status.notin_(_TERMINAL_VALUES))
    elif f.status:
        stmt = stmt.where(Case.status == f.status)
    if f.category:
        stmt = stmt.where(Case.category == f.category)
    if f.overdue:
        stmt = stmt.where(
            Case.sla_due_at.isnot(None),
            Case.sla_due_at < now,
            Case.status.notin_(_TERMINAL_VALUES),
        )
    if f.mine:
        stmt = stmt.where(Case.assignee_id == staff_id)
    if f.q:
        pattern = _like_pattern(f.q)
        conditions = [
            Case.content.ilike(pattern, escape="\\"),
            Case.ref_code.ilike(pattern, escape="\\"),
            Case.location_text.ilike(pattern, escape="\\"),
        ]
        code = normalise_ref_code(f.q)
        if code is not None:
            conditions.append(Case.ref_code == code)
        stmt = stmt.where(or_(*conditions))
    return stmt


def queue(
    session: Session, f: CaseFilter, staff_id: int, visible: Iterable[str], now: datetime
) -> tuple[list[Case], int]:
    """One page of the filtered queue (newest first) and the total number of matches."""
    visible = set(visible)
    total = session.execute(
        _filtered(select(func.count(Case.id)), f, staff_id, visible, now)
    ).scalar_one()
    rows = (
        session.execute(
            _filtered(select(Case), f, staff_id, visible, now)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .offset((f.page - 1) * f.per_page)
            .limit(f.per_page)
        )
        .scalars()
        .all()
    )
    return list(rows), int(total)


def all_matching(
    session: Session, f: CaseFilter, staff_id: int, visible: Iterable[str], now: datetime
) -> list[Case]:
    """Every match (for the CSV export), newest first, capped at :data:`CSV_MAX_ROWS`."""
    return list(
        session.execute(
            _filtered(select(Case), f, staff_id, set(visible), now)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(CSV_MAX_ROWS)
        ).scalars()
    )


def staff_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = session.execute(
        select(Staff.id, Staff.login, Staff.display_name).where(Staff.id.in_(wanted))
    ).all()
    return {r.id: (r.display_name or r.login) for r in rows}


# --------------------------------------------------------------------------- CSV

CSV_HEADER = (
    "Mã hồ sơ",
    "Loại",
    "Lĩnh vực",
    "Trạng thái",
    "Quá hạn",
    "Đơn vị",
    "Cán bộ được giao",
    "Ngày gửi",
    "Hạn xử lý",
    "Loại vụ việc",
    "Bước pháp lý tiếp theo",
    "Hạn bước pháp lý",
    "Kênh",
    "Địa điểm",
    "Nội dung",
    "Đánh giá",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would run as a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_bytes(
    cases: Sequence[Case],
    *,
    now: datetime,
    tz: tzinfo,
    category_names: Mapping[str, str],
    unit_names: Mapping[str, str],
    assignees: Mapping[int, str],
    legal: Mapping[int, Any] | None = None,
) -> bytes:
    """The queue as CSV, UTF-8 with a byte-order mark so Excel reads Vietnamese correctly.

    ``legal`` maps case ids to their :class:`bot.cases.forwarding.NextDue`. No column holds the
    sender's name, phone or channel id, for any case (a tố cáo's sender is protected by law)."""
    from bot.cases.legal_type import label as legal_label
    from bot.staff.html import kind_label, local_time

    legal = legal or {}

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for case in cases:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    case.ref_code,
                    kind_label(case.kind),
                    category_names.get(case.category or "", case.category or ""),
                    STATUS_LABELS[CaseStatus(case.status)],
                    "Có" if is_overdue(case, now) else "",
                    unit_names.get(case.unit_code, case.unit_code),
                    assignees.get(case.assignee_id, "") if case.assignee_id else "",
                    local_time(case.created_at, tz),
                    local_time(case.sla_due_at, tz),
                    legal_label(case.legal_type) if case.legal_type else "",
                    legal[case.id].label if case.id in legal else "",
                    f"{legal[case.id].due_on:%d/%m/%Y}"
                    if case.id in legal and legal[case.id].due_on else "",
                    case.channel,
                    case.location_text or "",
                    case.content,
                    case.rating or "",
                )
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --------------------------------------------------------------------------- overview


@dataclass(frozen=True)
class Overview:
    weeks: list[date]  # Monday of each week shown, oldest first
    by_week_category: dict[date, Counter[str]]
    by_status: Counter[str]
    by_kind: Counter[str]
    total: int
    open_overdue: int
    median_first_response: float | None  # seconds
    median_resolution: float | None  # seconds
    first_response_count: int
    resolution_count: int


def _monday(value: datetime, tz: tzinfo) -> date:
    local = value.astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def overview(
    session: Session, visible: Iterable[str], *, now: datetime, tz: tzinfo, weeks: int = 12
) -> Overview:
    """Figures for the overview page over the cases filed in the last ``weeks`` weeks.

    Time to first response: from filing to the ``first_response`` event (the first staff
    action). Time to resolution: from filing to the first move to "resolved" or "closed"
    (rejections are not resolutions).
    """
    codes = sorted(set(visible))
    this_monday = _monday(now, tz)
    first_monday = this_monday - timedelta(weeks=weeks - 1)
    start = datetime.combine(first_monday, datetime.min.time(), tzinfo=tz)
    rows = session.execute(
        select(
            Case.id, Case.category, Case.status, Case.kind, Case.created_at, Case.sla_due_at
        ).where(Case.unit_code.in_(codes), Case.created_at >= start)
    ).all()
    week_list = [first_monday + timedelta(weeks=i) for i in range(weeks)]
    by_week: dict[date, Counter[str]] = {w: Counter() for w in week_list}
    by_status: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    created: dict[int, datetime] = {}
    overdue = 0
    for row in rows:
        week = _monday(row.created_at, tz)
        if week in by_week:
            by_week[week][row.category or ""] += 1
        by_status[CaseStatus(row.status).value] += 1
        by_kind[CaseKind(row.kind).value] += 1
        created[row.id] = row.created_at
        if (
            row.sla_due_at is not None
            and row.sla_due_at < now
            and CaseStatus(row.status) not in TERMINAL_STATUSES
        ):
            overdue += 1

    first_response: dict[int, datetime] = {}
    resolved: dict[int, datetime] = {}
    if created:
        events = session.execute(
            select(CaseEvent.case_id, CaseEvent.action, CaseEvent.detail, CaseEvent.created_at)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(
                Case.unit_code.in_(codes),
                Case.created_at >= start,
                CaseEvent.action.in_(("first_response", "status_changed")),
            )
            .order_by(CaseEvent.id)
        ).all()
        for event in events:
            if event.action == "first_response":
                first_response.setdefault(event.case_id, event.created_at)
            elif isinstance(event.detail, dict) and event.detail.get("to") in (
                CaseStatus.RESOLVED.value,
                CaseStatus.CLOSED.value,
            ):
                resolved.setdefault(event.case_id, event.created_at)

    def _median(stamps: Mapping[int, datetime]) -> float | None:
        spans = [
            (stamp - created[cid]).total_seconds()
            for cid, stamp in stamps.items()
            if cid in created
        ]
        return statistics.median(spans) if spans else None

    return Overview(
        weeks=week_list,
        by_week_category=by_week,
        by_status=by_status,
        by_kind=by_kind,
        total=len(rows),
        open_overdue=overdue,
        median_first_response=_median(first_response),
        median_resolution=_median(resolved),
        first_response_count=len(first_response),
        resolution_count=len(resolved),
    )


def case_events(session: Session, case_id: int) -> list[CaseEvent]:
    return list(
        session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        ).scalars()
    )


def cluster_sizes(session: Session, cluster_ids: Iterable[int | None]) -> dict[int, int]:
    """How many cases each of these same-issue clusters holds (issue 15), in one query."""
    wanted = {c for c in cluster_ids if c is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(Case.cluster_id, func.count()).where(Case.cluster_id.in_(wanted))
        .group_by(Case.cluster_id)
    ).all()
    return {int(cluster): int(count) for cluster, count in rows}
