"""A citizen who pastes an advert and asks the page's admins to act on it ("chặn nó đi", "báo
cáo cho xóa đi", "ai quản lý nhóm…", "có người rải link…") is reporting, not advertising
(issue 12). Without these signals both messages below were refused as the spam they quote; the
quoted advert on its own must still be stopped."""

from __future__ import annotations

import pytest

from bot.moderation.gate import judge as gate

CRYPTO = '"đầu tư USDT lãi 3%/ngày, rút về ví trong 5 phút"'
SLOTS = '"🎰 NỔ HŨ CỰC MẠNH 🎰 ĐĂNG KÝ NHẬN 88K"'


@pytest.mark.parametrize("text", [
    f"Nhóm zalo của tổ 7 có người rải link {CRYPTO} liên tục, ai quản lý nhóm thì chặn nó đi",
    f"ai cho con bot đăng {SLOTS} trên trang phường vậy, báo cáo cho xóa đi",
])
def test_a_citizen_asking_the_admins_to_remove_a_pasted_advert_is_taken(text: str) -> None:
    verdict = gate(text)
    assert not verdict.verdict.flagged, verdict.verdict.reason
    assert any(r.startswith("report.") for r in verdict.verdict.rule_ids)


@pytest.mark.parametrize("advert", [CRYPTO.strip('"'), SLOTS.strip('"')])
def test_the_pasted_advert_alone_is_still_stopped(advert: str) -> None:
    assert gate(advert).verdict.flagged
