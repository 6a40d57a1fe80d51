"""A citizen passing on what reached them: "ai nhắn cho ba tui cái này …" (someone sent *this*
to a relative) or "… toàn tin nhắn kiểu: …" (pasted after "of the kind:") is reporting the advert,
not posting it (issue 12). Written by the lead from general knowledge, not from any blind set:
before these two signals both were refused as the loan and job spam they carry; the adverts on
their own must still be stopped."""

from __future__ import annotations

import pytest

from bot.moderation.gate import judge as gate

LOAN = "vay nhanh 50tr khong can the chap giai ngan trong 5 phut lh 0912 888 777"
JOBS = "Tuyển CTV làm việc tại nhà, lương 500k-1tr/ngày, chỉ cần điện thoại"


@pytest.mark.parametrize("text", [
    f"ai nhắn cho ba tui cái này nè {LOAN} ba tui gia roi de bi lua lam",
    f"Nhóm zalo tổ 7 toàn tin nhắn kiểu: {JOBS}. Mấy bác lớn tuổi tin thật",
])
def test_a_citizen_passing_on_an_advert_is_taken(text: str) -> None:
    verdict = gate(text)
    assert not verdict.verdict.flagged, verdict.verdict.reason


@pytest.mark.parametrize("advert", [LOAN, JOBS + ", liên hệ zalo 0977 123 456",
                                    f"Ưu đãi tháng này: {LOAN}"])
def test_the_adverts_alone_are_still_stopped(advert: str) -> None:
    assert gate(advert).verdict.flagged
