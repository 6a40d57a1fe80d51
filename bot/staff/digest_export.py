"""The digest's exports (issue 15 item 2): ``/staff/digest.csv`` for a spreadsheet and
``/staff/digest.pdf``, a document a chairman can forward.

The PDF is drawn with matplotlib, already in the environment (a Rasa dependency, pinned in
requirements.lock), through its object API (no pyplot, no global figure state) with the DejaVu
Sans font matplotlib ships: every Vietnamese letter has a glyph, the font is embedded as TrueType
(``pdf.fonttype`` 42, so readers show and search the text), and the document does not depend on
the fonts of the machine that made it or the one that opens it. ``tests/staff/test_digest_export``
renders its first page to PNG and reads its text back.
"""

from __future__ import annotations

import csv
import io
import textwrap
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.cases.digest import Change, Digest
from bot.staff.context import StaffContext, console_view, not_found_page
from bot.staff.digest_page import digest_request
from bot.staff.digest_text import (
    TITLE,
    aspect_name,
    baseline_text,
    category_namer,
    change_text,
    headline,
    programme_name,
    term_name,
    topic_name,
)
from bot.staff.queries import _cell

__all__ = ["csv_bytes", "digest_csv", "digest_pdf", "pdf_bytes"]

#: matplotlib's rcParams are process-wide; one PDF is drawn at a time.
_PDF_LOCK = threading.Lock()


# --------------------------------------------------------------------------- CSV


def csv_bytes(
    digest: Digest, *, unit_name: Callable[[str], str], category_name: Callable[[str], str]
) -> bytes:
    """One row per figure: section, item, in the period, baseline average, change. UTF-8 with a
    byte-order mark so Excel reads Vietnamese."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["Mục", "Nội dung", "Trong kỳ", "Trung bình các kỳ trước", "Thay đổi", "Ghi chú"])

    def changes(section: str, rows: Sequence[Any], name: Callable[[str], str]) -> None:
        for r in rows:
            w.writerow(
                [
                    _cell(v)
                    for v in (
                        section,
                        name(r.key),
                        r.current,
                        baseline_text(r.baseline),
                        change_text(r),
                        "",
                    )
                ]
            )

    changes("Tổng số hồ sơ", [digest.total], lambda _: unit_name(digest.unit_code))
    changes("Theo lĩnh vực", digest.by_category, category_name)
    changes("Theo đơn vị", digest.by_unit, unit_name)
    for topic in digest.rising_topics:
        note = f"/staff/cases/{topic.cluster_id}" if topic.cluster_id is not None else ""
        w.writerow(
            [
                _cell(v)
                for v in (
                    "Vấn đề tăng nhanh",
                    topic_name(topic.key),
                    topic.current,
                    baseline_text(topic.baseline),
                    change_text(topic),
                    note,
                )
            ]
        )
        for quote in topic.quotes:
            w.writerow([_cell(v) for v in ("Trích ý kiến", quote.ref_code, "", "", "", quote.text)])
    changes("Cụm từ tăng nhanh", digest.rising_terms, term_name)
    for c in digest.growing_clusters:
        w.writerow(
            [_cell(v) for v in ("Nhóm cùng phản ánh", c.ref_code, c.new, "", "", f"{c.size} hồ sơ")]
        )
    for label, rows in (
        ("Quá hạn", digest.overdue),
        ("Chưa ai phản hồi", digest.oldest_unanswered),
    ):
        for o in rows:
            w.writerow([_cell(v) for v in (label, o.ref_code, "", "", "", unit_name(o.unit_code))])
    for label, t in (
        ("Phản hồi đầu tiên (giây)", digest.first_response),
        ("Giải quyết (giây)", digest.resolution),
    ):
        w.writerow(
            [
                _cell(v)
                for v in (
                    label,
                    "trung vị / 90%",
                    t.median or "",
                    t.p90 or "",
                    "",
                    f"{t.count} hồ sơ",
                )
            ]
        )
    for stars, n in sorted(digest.ratings.items()):
        w.writerow(["Đánh giá", f"{stars} sao", n, "", "", ""])
    if digest.questions is not None:
        for p, a, n in digest.questions.asked:
            w.writerow(
                [
                    _cell(v)
                    for v in (
                        "Câu hỏi về chương trình",
                        programme_name(p),
                        n,
                        "",
                        "",
                        aspect_name(a),
                    )
                ]
            )
        for text, prog, _, n in digest.questions.unanswered:
            w.writerow(
                [
                    _cell(v)
                    for v in (
                        "Trợ lý chưa trả lời được",
                        text,
                        n,
                        "",
                        "",
                        programme_name(prog) if prog else "",
                    )
                ]
            )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --------------------------------------------------------------------------- PDF

A4 = (8.27, 11.69)  # inches
MARGIN = 0.07  # of the page
LINE = 0.021  # of the page height, at 10 pt


class _Doc:
    """A very small text flow over matplotlib figures: lines top to bottom, charts as axes,
    a new page when the current one is full."""

    def __init__(self, pdf: Any, font: Path, bold: Path) -> None:
        from matplotlib.font_manager import FontProperties

        self.pdf = pdf
        self.font = FontProperties(fname=str(font))
        self.bold = FontProperties(fname=str(bold))
        self.fig: Any = None
        self.y = 0.0
        self.page_no = 0

    def _new_page(self) -> None:
        from matplotlib.backends.backend_pdf import FigureCanvasPdf
        from matplotlib.figure import Figure

        self.finish_page()
        self.fig = Figure(figsize=A4)
        FigureCanvasPdf(self.fig)
        self.page_no += 1
        self.y = 1 - MARGIN

    def finish_page(self) -> None:
        if self.fig is not None:
            self.fig.text(
                0.5,
                MARGIN / 2,
                f"{TITLE} · trang {self.page_no}",
                ha="center",
                fontproperties=self.font,
                fontsize=8,
                color="#666",
                parse_math=False,
            )
            self.pdf.savefig(self.fig)
            self.fig = None

    def room(self, height: float) -> None:
        if self.fig is None or self.y - height < MARGIN:
            self._new_page()

    def text(
        self,
        line: str,
        *,
        size: float = 10,
        bold: bool = False,
        width: int = 95,
        colour: str = "#1d2733",
        indent: float = 0.0,
    ) -> None:
        chars = max(20, int(width * 10 / size * (0.88 if bold else 1.0)))
        for part in textwrap.wrap(line, chars) or [""]:
            height = LINE * size / 10
            self.room(height)
            self.fig.text(
                MARGIN + indent,
                self.y,
                part,
                va="top",
                fontsize=size,
                color=colour,
                fontproperties=self.bold if bold else self.font,
                parse_math=False,
            )
            self.y -= height * 1.25

    def gap(self, lines: float = 0.6) -> None:
        self.y -= LINE * lines

    def bars(self, rows: Sequence[Change], name: Callable[[str], str]) -> None:
        rows = list(rows)[:10]
        if not rows:
            return
        height = 0.035 * len(rows) + 0.03
        self.room(height + LINE)
        self.y -= LINE
        ax = self.fig.add_axes([MARGIN + 0.3, self.y - height, 1 - 2 * MARGIN - 0.38, height])
        ys = list(range(len(rows)))[::-1]
        ax.barh(
            [y + 0.18 for y in ys],
            [r.current for r in rows],
            height=0.36,
            color="#b3141b",
            label="trong kỳ",
        )
        ax.barh(
            [y - 0.18 for y in ys],
            [r.baseline for r in rows],
            height=0.36,
            color="#9fb3c8",
            label="trung bình kỳ trước",
        )
        ax.set_yticks(ys)
        ax.set_yticklabels([name(r.key)[:32] for r in rows], fontproperties=self.font, fontsize=8)
        for label in ax.get_xticklabels():
            label.set_fontproperties(self.font)
            label.set_fontsize(8)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(
            prop=self.font,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            ncol=2,
            frameon=False,
            fontsize=8,
        )
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        self.y -= height + LINE * 1.5


def _font_files() -> tuple[Path, Path]:
    import matplotlib

    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return ttf / "DejaVuSans.ttf", ttf / "DejaVuSans-Bold.ttf"


def pdf_bytes(
    digest: Digest, *, unit_name: Callable[[str], str], category_name: Callable[[str], str], tz: Any
) -> bytes:
    """The digest as a PDF (A4, Vietnamese text in embedded DejaVu Sans)."""
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    font, bold = _font_files()
    out = io.BytesIO()
    with _PDF_LOCK, matplotlib.rc_context({"pdf.fonttype": 42, "axes.unicode_minus": False}):
        with PdfPages(
            out, metadata={"Title": f"{TITLE} · {unit_name(digest.unit_code)}", "Creator": "MTTQ"}
        ) as pdf:
            doc = _Doc(pdf, font, bold)
            first, *rest = headline(digest, unit_name(digest.unit_code), tz)
            doc.text(first, size=17, bold=True)
            doc.gap()
            for line in rest:
                doc.text(line, size=10.5)
            doc.gap()
            doc.text("Vấn đề tăng nhanh", size=13, bold=True)
            if not digest.rising_topics:
                doc.text("Không có vấn đề nào tăng rõ rệt trong kỳ.")
            for topic in digest.rising_topics:
                group = (
                    f"; nhóm {topic.cluster_size} hồ sơ cùng phản ánh" if topic.cluster_id else ""
                )
                doc.text(
                    f"• {topic_name(topic.key)}: {topic.current} hồ sơ, trung bình "
                    f"{baseline_text(topic.baseline)} mỗi kỳ trước ({change_text(topic)}){group}",
                    bold=True,
                    size=10,
                )
                for quote in topic.quotes:
                    doc.text(
                        f"“{quote.text}” ({quote.ref_code})", size=9, colour="#444", indent=0.03
                    )
            doc.gap()
            doc.text("Theo lĩnh vực", size=13, bold=True)
            doc.bars(digest.by_category, category_name)
            for r in digest.by_category:
                doc.text(f"{category_name(r.key)}: {r.current} ({change_text(r)})", size=9)
            doc.gap()
            doc.text("Theo đơn vị", size=13, bold=True)
            doc.bars(digest.by_unit, unit_name)
            for r in digest.by_unit:
                doc.text(f"{unit_name(r.key)}: {r.current} ({change_text(r)})", size=9)
            doc.gap()
            doc.text(f"Quá hạn ({digest.overdue_count})", size=13, bold=True)
            for o in digest.overdue:
                doc.text(
                    f"{o.ref_code} · {unit_name(o.unit_code)} · {category_name(o.category or '')}"
                    f" · hạn {o.sla_due_at.astimezone(tz):%d/%m/%Y}"
                    if o.sla_due_at
                    else o.ref_code,
                    size=9,
                )
            doc.text(f"Chưa ai phản hồi ({digest.unanswered_count}), lâu nhất:", size=13, bold=True)
            for o in digest.oldest_unanswered:
                doc.text(
                    f"{o.ref_code} · {unit_name(o.unit_code)} · gửi "
                    f"{o.created_at.astimezone(tz):%d/%m/%Y}",
                    size=9,
                )
            if digest.questions is not None:
                doc.gap()
                doc.text("Câu hỏi cho trợ lý ảo", size=13, bold=True)
                for p, a, n in digest.questions.asked:
                    doc.text(f"{programme_name(p)} — {aspect_name(a)}: {n} lần", size=9)
                doc.text("Chưa trả lời được:", size=10, bold=True)
                for t, _p, _a, n in digest.questions.unanswered:
                    doc.text(f"“{t or '(không lưu lời)'}” — {n} lần", size=9)
            doc.finish_page()
    return out.getvalue()


# --------------------------------------------------------------------------- routes


def _names(ctx: StaffContext) -> dict[str, Any]:
    return {"unit_name": ctx.unit_name, "category_name": category_namer(ctx.category_names())}


def _download(data: bytes, content_type: str, name: str) -> web.Response:
    return web.Response(
        body=data,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@console_view()
def digest_csv(ctx: StaffContext) -> web.StreamResponse:
    req, digest = digest_request(ctx)
    if digest is None:
        return not_found_page()
    return _download(
        csv_bytes(digest, **_names(ctx)),
        "text/csv; charset=utf-8",
        f"ban-tin-{req.unit}-{req.end.isoformat()}.csv",
    )


@console_view()
def digest_pdf(ctx: StaffContext) -> web.StreamResponse:
    req, digest = digest_request(ctx)
    if digest is None:
        return not_found_page()
    return _download(
        pdf_bytes(digest, tz=ctx.tz, **_names(ctx)),
        "application/pdf",
        f"ban-tin-{req.unit}-{req.end.isoformat()}.pdf",
    )
