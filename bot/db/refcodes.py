"""Case reference codes: ``KN-2611-0042`` — short, typeable over a phone, unique.

``KN`` (kiến nghị) marks petitions, ``GY`` (góp ý) feedback and ``HT`` (hỗ trợ) handoffs; then the
year and month of creation in Vietnam's time zone; then a sequence per prefix and month, four digits
growing to five (and more) when a month passes 9,999 cases.

Sequences come from the ``ref_counters`` table (one row per ``KN-2611``): an upsert increments the
row, so concurrent creators queue on its row lock (PostgreSQL) or the database write lock (SQLite,
see ``bot.db.engine``) instead of all computing the same ``max + 1``. The unique ``cases.ref_code``
stays the last line of defence; ``resync_counter`` repairs a counter that fell behind (for example
after cases were imported by hand).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db.models import Case, CaseKind, RefCounter
from bot.db.types import ensure_aware

PREFIXES: dict[CaseKind, str] = {
    CaseKind.PETITION: "KN",
    CaseKind.FEEDBACK: "GY",
    CaseKind.HANDOFF: "HT",
}


def _vietnam_tz() -> tzinfo:
    """Asia/Ho_Chi_Minh; UTC+7 without the tz database (Vietnam has no daylight saving)."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Ho_Chi_Minh")
    except Exception:  # pragma: no cover - only without tzdata
        return timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


#: The month in a code is the citizen's month, fixed by the product, not by TZ_NAME.
VIETNAM_TZ = _vietnam_tz()

_SEP = r"[\s\-_./\u2010-\u2015]*"
_CODE_RE = re.compile(
    rf"(?<![A-Za-z0-9])(KN|GY|HT){_SEP}(\d{{2}})(0[1-9]|1[0-2]){_SEP}(\d{{4,6}})(?![0-9])",
    re.IGNORECASE,
)


#: Something a citizen typed as a code that is not one of ours: letters, then digit groups
#: ("MT-2611-0042", "PA 2611 42", "HS2611-0042"): two or three letters, a four-digit group.
_CODE_LIKE_RE = re.compile(
    rf"(?<!\w)([A-Za-z]{{2,3}}){_SEP}(\d{{4}}){_SEP}(\d{{2,6}})(?![0-9])"
)


def code_like(text: str | None) -> str | None:
    """A code-shaped word in ``text`` that :func:`normalise_ref_code` does not accept (a wrong
    prefix or month), so the citizen can be told the code is not valid rather than ignored."""
    if not text or normalise_ref_code(text) is not None:
        return None
    match = _CODE_LIKE_RE.search(text)
    return match.group(0) if match else None


def month_prefix(kind: CaseKind, now: datetime) -> str:
    """``KN-2611`` for a petition created in November 2026 (Vietnam time)."""
    local = ensure_aware(now, "now").astimezone(VIETNAM_TZ)
    return f"{PREFIXES[CaseKind(kind)]}-{local:%y%m}"


def format_ref_code(prefix: str, sequence: int) -> str:
    """``format_ref_code("KN-2611", 42) == "KN-2611-0042"``; five digits from 10,000."""
    if sequence < 1:
        raise ValueError(f"sequence must be positive, got {sequence}")
    return f"{prefix}-{sequence:04d}"


def normalise_ref_code(text: str | None) -> str | None:
    """The canonical code found in ``text``, or None.

    Accepts what people type or an entity extractor passes on: ``kn26110042``,
    ``kn 2611 0042``, ``KN-2611-0042``, ``Mã của tôi là KN–2611–0042.`` A five-digit sequence
    (``KN-2611-10000``) is kept as five digits; a shorter one is zero-padded to four.
    """
    if not text:
        return None
    match = _CODE_RE.search(text)
    if match is None:
        return None
    letters, year, month, sequence = match.groups()
    number = int(sequence)
    if number == 0:
        return None
    return format_ref_code(f"{letters.upper()}-{year}{month}", number)


def next_sequence(session: Session, prefix: str) -> int:
    """Increment and return the counter for ``prefix`` inside the session's transaction."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(RefCounter).values(prefix=prefix, last_value=1)
        pg_stmt = pg_stmt.on_conflict_do_update(
            index_elements=[RefCounter.prefix],
            set_={"last_value": RefCounter.last_value + 1},
        ).returning(RefCounter.last_value)
        return int(session.execute(pg_stmt).scalar_one())
    if dialect == "sqlite":
        lite_stmt = sqlite.insert(RefCounter).values(prefix=prefix, last_value=1)
        lite_stmt = lite_stmt.on_conflict_do_update(
            index_elements=[RefCounter.prefix],
            set_={"last_value": RefCounter.last_value + 1},
        )
        session.execute(lite_stmt)
    else:  # pragma: no cover - other databases: plain read-modify-write under a row lock
        row = session.execute(
            select(RefCounter).where(RefCounter.prefix == prefix).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            session.add(RefCounter(prefix=prefix, last_value=1))
            session.flush()
        else:
            row.last_value += 1
    return int(
        session.execute(
            select(RefCounter.last_value).where(RefCounter.prefix == prefix)
        ).scalar_one()
    )


def resync_counter(session: Session, prefix: str) -> None:
    """Move the counter for ``prefix`` past every code already used in ``cases``."""
    codes = session.execute(
        select(Case.ref_code).where(Case.ref_code.like(f"{prefix}-%"))
    ).scalars()
    highest = 0
    for code in codes:
        tail = code[len(prefix) + 1 :]
        if tail.isdigit():
            highest = max(highest, int(tail))
    counter = session.get(RefCounter, prefix, populate_existing=True)
    if counter is None:
        session.add(RefCounter(prefix=prefix, last_value=highest))
    elif counter.last_value < highest:
        counter.last_value = highest
    session.flush()
