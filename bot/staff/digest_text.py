"""The digest's words (issue 15): labels and figures as staff read them, shared by the console
page, its CSV and PDF exports and the Monday Telegram summary so the four say the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

from bot.cases.digest import Change, Digest, Period, Timing
from bot.cases.digest_topics import topic_words
from bot.staff import html as h

__all__ = [
    "TITLE",
    "aspect_name",
    "change_text",
    "period_text",
    "programme_name",
    "timing_text",
    "topic_name",
]

#: The document's title (the PDF test looks for it, with its diacritics, in the text layer).
TITLE = "Bản tin dư luận"
UNCATEGORISED = "Chưa phân loại"


def period_text(period: Period) -> str:
    """ "7 ngày 23/11–29/11/2026, so với trung bình 4 kỳ trước"."""
    return (
        f"{period.days} ngày {period.first_day:%d/%m}–{period.last_day:%d/%m/%Y}, so với "
        f"trung bình {period.baseline_periods} kỳ {period.days} ngày trước đó"
    )


def change_text(change: Change | object) -> str:
    """ "+3 (+150%)", "mới", "−2 (−40%)", "không đổi"."""
    current = int(getattr(change, "current", 0))
    baseline = float(getattr(change, "baseline", 0.0))
    delta = current - baseline
    if not baseline:
        return "mới" if current else "—"
    if abs(delta) < 0.05:
        return "không đổi"
    sign = "+" if delta > 0 else "−"
    return f"{sign}{abs(delta):.1f} ({sign}{abs(100 * delta / baseline):.0f}%)".replace(".0 ", " ")


def baseline_text(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value else "0"


def timing_text(timing: Timing) -> str:
    if not timing.count:
        return "—"
    return (
        f"trung vị {h.duration(timing.median)}, 90% trong {h.duration(timing.p90)} "
        f"({timing.count} hồ sơ)"
    )


def topic_name(key: str) -> str:
    """A problem kind in the words citizens use for it."""
    return topic_words(key).capitalize()


def term_name(key: str) -> str:
    """A folded word pair as the clustering reader keeps it (``nuoc_ngap`` → "nuoc ngap")."""
    return key.replace("_", " ")


def programme_name(code: str | None) -> str:
    if not code:
        return "(không rõ chương trình)"
    try:
        from bot.knowledge.content import knowledge_base

        return knowledge_base().get(code).title
    except Exception:  # noqa: BLE001 - the knowledge base may not be loaded in this process
        return code


def aspect_name(aspect: str | None) -> str:
    if not aspect:
        return "giới thiệu chung"
    try:
        from bot.knowledge.answers import aspect_labels

        return str(aspect_labels().get(aspect, aspect))
    except Exception:  # noqa: BLE001 - see programme_name
        return aspect


def category_namer(names: dict[str, str]) -> Callable[[str], str]:
    return lambda code: names.get(code, code) if code else UNCATEGORISED


def headline(digest: Digest, unit_name: str, tz: tzinfo) -> list[str]:
    """The few lines a chairman reads first (the Telegram summary and the PDF's opening)."""
    lines = [
        f"{TITLE} · {unit_name}",
        period_text(digest.period),
        f"Hồ sơ nhận: {digest.total.current} ({change_text(digest.total)}; trung bình trước "
        f"đó {baseline_text(digest.total.baseline)})",
        f"Đang quá hạn: {digest.overdue_count} · Chưa ai phản hồi: {digest.unanswered_count}",
        f"Phản hồi đầu tiên: {timing_text(digest.first_response)}",
        f"Giải quyết: {timing_text(digest.resolution)}",
    ]
    if digest.rating_average is not None:
        lines.append(
            f"Đánh giá của người dân: {digest.rating_average:.1f}/5 "
            f"({sum(digest.ratings.values())} lượt)"
        )
    return lines
