"""The digest page and its exports (issue 15 item 2) on the real app, SQLite and PostgreSQL: the
page lays out the service's figures with a link from the rising topic to its cluster, the CSV
carries them, and the PDF's first page renders to an image with its Vietnamese text intact
(poppler's ``pdftoppm`` and ``pdftotext``; the set-up installs ``poppler-utils`` for the tests)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from staff_helpers import World, seed_case

from bot.cases.linking import link_case
from bot.db.engine import session_scope
from bot.db.models import Case
from bot.db.types import utcnow

FLOOD = "Ngõ 5 phố Láng Hạ cứ mưa là ngập, nước tràn vào nhà. Tôi là Đỗ Thị Hằng, số 0912345678"


def seed_flooded_alley(world: World, n: int = 4) -> list[int]:
    """``n`` citizens report the same flooded alley over the last two days, linked as the bot
    links them; returns the case ids, oldest first."""
    ids = []
    for i in range(n):
        case_id, _ = seed_case(
            world.engine,
            content=FLOOD.replace("nhà", f"nhà {i}"),
            category="ha_tang",
            channel_user_id=f"psid-flood-{i}",
        )
        ids.append(case_id)
    with session_scope(world.engine) as session:
        for i, case_id in enumerate(ids):
            session.execute(
                update(Case)
                .where(Case.id == case_id)
                .values(created_at=utcnow() - timedelta(days=2, hours=-i))
            )
        for case_id in ids:
            link_case(session, session.get(Case, case_id))
    return ids


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"{name} not installed (apt-get install poppler-utils)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI is set, so the PDF must be rendered")
        pytest.skip(message)
    return found


async def test_digest_page_csv_and_pdf(world: World, tmp_path: Path) -> None:
    ids = seed_flooded_alley(world)
    client = await world.logged_in("hoa")
    page = await client.get("/staff/digest")
    assert page.status == 200
    html = await page.text()
    assert "Bản tin dư luận · phường Láng" in html
    assert 'id="digest-total">4<' in html  # the floods; the world's own cases came in today
    assert f'href="/staff/cases/{ids[0]}">Xem nhóm 4 hồ sơ cùng phản ánh' in html
    assert "Đỗ Thị Hằng" not in html and "0912345678" not in html  # quotes are masked
    assert "<svg" in html and "<script" not in html
    assert (await client.get("/staff/digest?unit=p_cau_giay")).status == 404  # not theirs
    longer = await (await client.get("/staff/digest?days=28&end=2026-01-31")).text()
    assert "28 ngày 04/01–31/01/2026" in longer

    response = await client.get("/staff/digest.csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert rows[0][0] == "Mục"
    topics = [r for r in rows if r[0] == "Vấn đề tăng nhanh"]
    assert topics and topics[0][1].startswith("Ngập") and topics[0][5] == f"/staff/cases/{ids[0]}"
    assert not any("0912345678" in cell for row in rows for cell in row)

    response = await client.get("/staff/digest.pdf")
    assert response.status == 200 and response.headers["Content-Type"] == "application/pdf"
    pdf = tmp_path / "digest.pdf"
    pdf.write_bytes(await response.read())
    assert pdf.read_bytes().startswith(b"%PDF")

    text = subprocess.run(
        [_tool("pdftotext"), "-f", "1", "-l", "1", "-enc", "UTF-8", str(pdf), "-"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    assert "Bản tin dư luận · phường Láng" in text
    assert "Vấn đề tăng nhanh" in text and "Ngập" in text
    assert "Đỗ Thị Hằng" not in text
    fonts = subprocess.run(
        [_tool("pdffonts"), str(pdf)], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    assert "DejaVuSans" in fonts and " yes " in fonts  # embedded

    subprocess.run(
        [
            _tool("pdftoppm"),
            "-f",
            "1",
            "-l",
            "1",
            "-r",
            "50",
            "-png",
            str(pdf),
            str(tmp_path / "page"),
        ],
        check=True,
        timeout=60,
    )
    [png] = sorted(tmp_path.glob("page*.png"))
    from PIL import Image

    with Image.open(png) as image:
        grey = image.convert("L")
        width, height = grey.size
        assert width > 300 and height > 400  # A4 at 50 dpi
        dark = sum(1 for value in grey.getdata() if value < 128)
    assert dark > 0.005 * width * height  # text and bars were drawn, not a blank page
