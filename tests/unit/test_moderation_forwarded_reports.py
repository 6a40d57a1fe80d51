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


# A citizen who says the advert fooled their mother, then pastes it whole: the pasted advert
# scored more than the report could take off, so the more faithfully it was copied, the surer
# the citizen was refused. ``reported_factor`` (content/moderation/settings.yml) shrinks it.
PASTED = [
    "nạp đầu tặng 100%, rút tiền 5 phút, fv88vn.club",
    "Thu mua tài khoản ngân hàng chính chủ giá cao, ib zalo 0912 345 678",
    "việc nhẹ lương cao 500k/ngày tại nhà, ib zalo 0912 345 678",
    "bán sim đã kích hoạt, sim nhận otp số lượng lớn, lh 0977 000 111",
]


@pytest.mark.parametrize("advert", PASTED)
def test_a_pasted_advert_weighs_less_beside_a_citizens_report(advert: str) -> None:
    import dataclasses

    from bot.moderation import load_rules

    rules = load_rules()
    text = f"mẹ tôi bị dụ bởi tin {advert}"
    assert rules.reported_factor < 1.0
    assert not gate(text, rules).verdict.flagged
    # Without the factor the same report is refused: the setting is what saves it.
    assert gate(text, dataclasses.replace(rules, reported_factor=1.0)).verdict.flagged
    assert gate(advert, rules).verdict.flagged  # the advert alone is still stopped


# Stop 42: the report signals a pasted advert still slipped past (counted on used blind sets
# only; these phrasings are the lead's own): asking the admins to hide, kick out, ban or pin a
# warning, a neighbour's "nhắc cả nhà", "thật ko", "… là giả.", the real sender's rule recalled
# ("ngân hàng không gửi link"), a page using the Front's name to cheat people.
CRYPTO = "Kèo X10 tài khoản mỗi tuần, vào nhóm t.me/keo_x10_vip nhận tín hiệu free"
PHISH = "Tài khoản của quý khách sẽ bị khóa, xác minh ngay tại vneid-xacminh.top"


@pytest.mark.parametrize("text", [
    f"{CRYPTO} -- admin ơi đá nick này ra khỏi nhóm giùm em với",
    f"an gium may cmt nay di ad: {JOBS}",
    f"ban giùm tk này với, ngày nào cũng vào cmt: {CRYPTO}",
    f"Nhóm đang có người rải tin '{CRYPTO}'. Admin ghim bài cảnh báo lên cho mọi người biết",
    f'Nhắc cả nhà: tin "{PHISH}" là giả.',
    f'Tin "{PHISH}" -- bà con nhớ ngân hàng không gửi link xác minh qua tin nhắn đâu',
    f"{JOBS}, liên hệ zalo 0977 123 456. Chị em ơi cái này thật ko?",
    "Trang 'Mặt Trận Hỗ Trợ Vốn' lấy tên Mặt trận lừa tiền cọc 500k của bà con, nạp phí nhận"
    " vốn 50 triệu, lh 0912 000 333",
])
def test_a_citizen_warning_about_a_pasted_advert_is_taken(text: str) -> None:
    verdict = gate(text)
    assert not verdict.verdict.flagged, verdict.verdict.reason


@pytest.mark.parametrize("advert", [
    f"{CRYPTO}, lh zalo 0912 345 678",
    PHISH,
    "Bán giùm chị lô sim số đẹp giá gốc, ib zalo 0977 123 456",
])
def test_those_adverts_alone_are_still_stopped(advert: str) -> None:
    assert gate(advert).verdict.flagged
