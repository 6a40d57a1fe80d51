"""Issue 12, fourth blind set: spam recognised by the structure of an offer, and citizens who
report spam to the Front recognised by how they speak to it.

The rules tuned on earlier sets generalised poorly to new families (SIMs in someone else's name,
"cổ phần số", debt-collection services…). An advert's structure does not change with its family:
something offered, with a price, an easy promise or a gain, and a way to answer. ``offer`` rules
(``content/moderation/offer.yml``) describe those parts; with a contact and no sign of a report
they stop a message (:func:`bot.moderation.engine._offer_structure`). A citizen quoting the same
advert to the Front ("ad ơi", "phường xử lý", "em bị add vào nhóm", "có thật không") is taken.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.moderation import ModerationRules, load_rules, moderate
from bot.moderation.engine import MIN_OFFER_PARTS
from bot.moderation.gate import apply_policy

RULES_DIR = Path(__file__).resolve().parents[2] / "content" / "moderation"


@pytest.fixture(scope="module")
def rules() -> ModerationRules:
    return load_rules(RULES_DIR)


def _refused(text: str, rules: ModerationRules) -> bool:
    gate = apply_policy(moderate(text, rules), text)
    return gate.flagged or gate.insult_only


#: Adverts that name no family's words: only their structure (offer parts + a contact) stops them.
STRUCTURE_ONLY = [
    "Bên em chuyên nhận đặt hàng, đảm bảo trong ngày, toàn quốc, nhắn tele @hang_nhanh",
    "Nhận làm hồ sơ nhanh chóng trong ngày, phí dịch vụ thấp, gọi 0912 345 678",
]


@pytest.mark.parametrize("text", STRUCTURE_ONLY)
def test_an_offer_with_a_contact_is_stopped_by_its_structure(
    text: str, rules: ModerationRules
) -> None:
    verdict = moderate(text, rules)
    offers = {r for r in verdict.rule_ids if r.startswith("offer.")}
    assert verdict.flagged, verdict.reason
    assert verdict.category == "ad_spam"
    assert len(offers) >= MIN_OFFER_PARTS
    # No family's own words matched: the structure alone decided.
    assert all(r.split(".")[0] in ("offer", "signal") for r in verdict.rule_ids), verdict.rule_ids


#: A way to answer that is an order, not a chat ("nhắn tin đặt hàng", "đặt qua số…"): the shop
#: advert of any product, with a price and nothing of a family's words.
ORDER_CONTACT = [
    "Bột ngũ cốc dinh dưỡng cho người già giá chỉ 120k/hộp, giao hàng trong ngày, nhắn tin đặt hàng",
    "Chăn ga gối đệm đồng giá 350k, bảo hành 1 năm, nhắn tin để đặt nhé",
]


@pytest.mark.parametrize("text", ORDER_CONTACT)
def test_an_offer_answered_by_an_order_is_stopped(text: str, rules: ModerationRules) -> None:
    verdict = moderate(text, rules)
    assert verdict.flagged and verdict.category == "ad_spam", verdict.reason
    assert "signal.contact" in verdict.rule_ids


def test_a_citizen_who_ordered_is_taken(rules: ModerationRules) -> None:
    # Same words from a buyer who was cheated: a report, never an advert.
    text = ("Tôi nhắn tin đặt hàng chăn ga giá chỉ 350k, bảo hành 1 năm, chuyển khoản rồi mà "
            "shop chặn luôn, đặt qua zalo nên giờ không biết tìm ai")
    assert not _refused(text, rules)


def test_an_offer_without_a_way_to_answer_is_not_stopped(rules: ModerationRules) -> None:
    # The same parts with no ib / zalo / number / handle / link: nothing to answer, not an advert.
    assert not moderate("Nhận làm hồ sơ nhanh chóng trong ngày, phí dịch vụ thấp", rules).flagged


def test_an_offer_with_a_sign_of_a_report_is_not_stopped_by_its_structure(
    rules: ModerationRules,
) -> None:
    text = (
        "Tôi thấy tờ rơi nhận làm hồ sơ nhanh chóng trong ngày, phí dịch vụ thấp, gọi 0912 345 678"
    )
    assert not moderate(text, rules).flagged


def test_one_offer_part_and_a_phone_number_is_not_stopped(rules: ModerationRules) -> None:
    text = "Hộ kinh doanh bán hàng giá rẻ lấn chiếm vỉa hè, sđt chủ quán 0988 111 222"
    assert not _refused(text, rules)


#: New families, written from general knowledge (not from a blind set).
NEW_FAMILIES = [
    "Cho thuê sim chính chủ đứng tên người khác, nghe gọi nhận OTP thoải mái, giá 50k/tháng, ib",
    "Nhận mở thẻ tín dụng cho người nợ xấu, hạn mức 50 triệu, lh 0987654321",
    "Tuyển CTV chốt đơn online, đóng phí hồ sơ 300k để nhận việc, lương theo ngày 300-500k",
    "XKLĐ Đài Loan, bay nhanh 45 ngày, đặt cọc trước 20tr giữ suất, gọi 0907 666 555",
    "Thuốc nam gia truyền trị dứt điểm gout, 1 liệu trình là khỏi, giá 450k, ship cod toàn quốc",
    "Đất nền ven biển giá đầu tư chỉ 15tr/m2, sổ sẵn, sinh lời cao, hotline 0912 000 111",
    "Dịch vụ đòi nợ thuê uy tín, thu hồi nợ khó đòi nhanh chóng, phí thấp, liên hệ 0911222333",
    "Chuyên bán kèo ngoại hạng, thắng mới thu phí, bao ăn 85%, zalo 0966 777 888",
    "Đua ngựa trực tuyến, cược từ 10k, trả thưởng nhanh, vào nhóm tele @duangua",
    "Vay góp ngày không cần thế chấp, trả góp 50k/ngày, có mặt tận nơi, lh 0966555444",
    "Hỗ trợ tất toán các app vay, sau đó chỉ còn trả 1 khoản, nhắn zalo em để được tư vấn",
    "Góp vốn cổ phần số dự án điện mặt trời, nhận cổ tức 6% mỗi tháng, tham gia nhóm zalo",
    "Mở tài khoản giao dịch vàng XAUUSD, lợi nhuận 15%/tuần, ib tele @vangvip",
    "Airdrop 1000 token miễn phí, kết nối ví nhận ngay, số lượng có hạn: token-free.xyz",
]


@pytest.mark.parametrize("text", NEW_FAMILIES)
def test_new_families_are_stopped(text: str, rules: ModerationRules) -> None:
    assert _refused(text, rules), moderate(text, rules).reason


#: Citizens reporting the same adverts to the Front, often quoting them: complaints, never refused.
REPORTS = [
    "Ad ơi em bị add vào nhóm Telegram đầu tư cổ phần số, họ hứa lãi 5% mỗi tháng, "
    "cái này có thật không ạ",
    'Có người phát tờ rơi "vay tiền nhanh chỉ cần CCCD, góp ngày" ở cổng chợ, phường xử lý giúp',
    'Tôi gọi thử thì bên "cho thuê sim chính chủ" đòi gửi ảnh CCCD, báo để phường biết',
    'Có trang "CTV Mặt trận" tuyển người làm online, đóng phí 300k, '
    "có phải trang của Mặt trận không ạ",
    "Em được mời tham gia airdrop coin mới, phải kết nối ví, cái này là lừa phải không ạ",
    "có người phát tờ rơi cho vay góp ngày lãi 50k/ngày ở chợ, ai quản lý vụ này vậy",
    'Phường xử lý giúp, ngoài cột điện đầu ngõ dán đầy "vay góp ngày, gọi 0888 222 333"',
    'Em bị add vào nhóm tele "Cổ phần số - cổ tức 6% mỗi tháng", cái này có hợp pháp không ạ',
    'Báo cáo ad: tài khoản tên Lan Anh cứ vào bình luận "vay góp ngày không thế chấp 0966555444"',
    "Em được rủ góp vốn dự án nông nghiệp công nghệ cao, hứa nhận 1 triệu mỗi tháng, "
    "có nên tham gia không ạ",
]


@pytest.mark.parametrize("text", REPORTS)
def test_a_citizen_reporting_an_advert_is_taken(text: str, rules: ModerationRules) -> None:
    assert not _refused(text, rules), moderate(text, rules).reason


#: Complaints with the offer words and a phone number: never refused.
COMPLAINTS = [
    "Giá điện tăng mà chất lượng kém, cam kết sửa trạm biến áp từ tháng 3, "
    "liên hệ hotline không ai nghe",
    "Chỉ cần 1 trận mưa là ngõ 12 ngập, không cần phải mưa to, đề nghị phường nạo vét",
    "Nhà tôi ở ngõ 5, cam kết sửa đường từ năm ngoái mà chưa làm, hotline không ai nghe, "
    "0912345678",
    "Ngõ 7 có cửa hàng bán sim, tối nào cũng mở loa quảng cáo rất to, gọi 0912 000 222 "
    "không ai nghe",
    "Cần tuyển người giúp việc, lương 6 triệu, liên hệ 0912345678",
]


@pytest.mark.parametrize("text", COMPLAINTS)
def test_complaints_with_offer_words_are_taken(text: str, rules: ModerationRules) -> None:
    assert not _refused(text, rules), moderate(text, rules).reason
