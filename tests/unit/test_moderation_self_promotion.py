"""Adverts dressed as warnings, and the citizens who pass such adverts on (issue 12, stop 43).

Spam learned to open as a warning ("CẢNH BÁO lừa đảo! … bên em uy tín, ib em") and so earned the
discount meant for citizens reporting spam. ``content/moderation/self_promotion.yml`` names the
seller's own voice; with a spam family and a way to answer outside any quotation, the warning is
void (:func:`bot.moderation.engine._posing_as_warning`). A citizen who passes the same advert on
quotes it, pastes it after a lead-in and a colon, or tells it in the third person, and is still
taken. Written by the lead from general knowledge, never from a blind set."""

from __future__ import annotations

import pytest

from bot.moderation import moderate
from bot.moderation.gate import judge

POSING = [
    "CẢNH BÁO: nhiều trang giả mạo nhà cái lừa đảo người chơi! Chỉ có link chính thức"
    " kubet-vn.top mới uy tín, nạp đầu tặng 100%",
    "canh bao lua dao vay tien!!! ben em la cty tai chinh co giay phep, no xau van duyet,"
    " ib e Linh",
    "Mọi người cẩn thận tín dụng đen. Ai cần vay vốn lãi thấp thật sự thì liên hệ cô Thu"
    " 0937 226 118, giải ngân trong ngày",
    "cảnh giác nha anh em, kèo lừa tràn lan. theo anh kèo thơm ngoại hạng anh đảm bảo thắng 90%,"
    " zalo 0366 204 981",
    # Round 3 (after set 29 was measured; our own wording of the kinds it let through).
    "Cảnh giác mùa giải! Nhiều trang cá độ lừa đảo, anh em hãy chọn sân chơi uy tín được cấp phép"
    " KUVIP, đăng ký tại kuvip-bet.net",
    "CẢNH BÁO: kẻ gian mạo danh ngân hàng, quý khách hãy cập nhật thông tin tại vcb-capnhat.info"
    " để bảo vệ tài khoản",
    "Cảnh báo trang giả! Bà con chỉ truy cập link chính chủ nohu-chinhchu.vip, nạp đầu tặng 100%",
    # Stop 44 (after set 30 was measured; our own wording of the kinds it let through): a brand
    # named as the official channel, with no link or number; the reader told to act only there.
    "CẢNH GIÁC sàn coin lừa đảo! Anh em chỉ giao dịch trên sàn chính thức BitVietX, đầu tư"
    " tiền ảo lãi cố định 2%/ngày",
    "Cẩn thận app vay giả mạo! Hãy vay tại kênh chính thức VayAnTam, được Bộ Công an cấp phép,"
    " app vay duyệt trong 10 phút",
    "CẢNH BÁO mạo danh Cục Thuế! Người nộp thuế chỉ kê khai qua cổng chính thức hoàn tiền tại"
    " thue-hoantien.click",
    # Round 5 (after set 32 was measured; our own wording of the kinds it let through).
    "Mẹo tránh lừa đảo: hãy quét bảo mật thẻ ATM tại baove-the.online, chỉ cần nhập số thẻ và"
    " OTP để kiểm tra",
    "Nạn nhân lừa đảo chú ý: không cần báo công an, nhóm luật sư hỗ trợ lấy lại 100% tiền, chỉ"
    " thu phí khi thành công, gọi 0971 228 406",
    "Cảnh giác mấy trang tuyển dụng lừa đảo! Công ty chúng tôi không thu phí, chỉ cần nạp 150k"
    " kích hoạt tài khoản làm nhiệm vụ, đăng ký tại job-tot24.site",
    "cô giáo trường em làm online 3 tháng sắm được cả tủ lạnh, chỉ cần điện thoại mỗi tối 1"
    " tiếng, ai muốn thì để lại sđt mình hướng dẫn",
    # Round 6 (after set 33): a "recovery centre" answering a warning.
    "CẢNH BÁO lừa đảo online! Ai đã bị lừa, Trung tâm pháp lý Thu hồi Tiền số sẽ lấy lại 100% tiền"
    " trong 48h, gọi luật sư Khánh 0388 410 572",
    # Stop 45 (after sets 39, 41 and 42 were read; our own wording of their kinds): where to bet,
    # a brand named, and a "warning" that sends the reader to verify at a link.
    "⚠️ CẢNH BÁO: web tài xỉu lừa đảo tràn lan! Anh em chỉ nên cược tại nhà cái uy tín BK79,"
    " nạp rút 1 phút",
    "Cảnh báo lừa đảo! Nhiều người bị trừ tiền vì chưa đồng bộ sinh trắc học, hãy cập nhật ngay"
    " tại vneid-dongbo.site",
]

# Stop 44: an advert quoted or pasted whole, the writer adding words no report rule knows.
QUOTED_WHOLE = [
    'Cháu nó đưa tôi xem tờ giấy "Tuyển CTV đóng gói hàng tại nhà 400k/ngày, cọc 300k nhận'
    ' việc". Bên Mặt trận mình có làm việc này thật à, tôi định cho nó đi.',
    "ong hang xom gui cho toi doc thu: NAP 100K TANG 100K, GAME BAI DOI THUONG UY TIN, RUT 1-1."
    " toi gia roi khong hieu may thu nay",
]
# Round 6: an advert pasted after a plain lead-in ("… gửi:", "tin nhắn:").
PLAIN_LEAD_INS = [
    "có người trong nhóm phụ huynh gửi: vay nhanh 30 triệu chỉ cần căn cước, giải ngân 10 phút."
    " Nhóm phụ huynh mà cũng không tha",
    "tin nhan: Quy khach trung thuong xe SH, nhan tai honda-quatang.top truoc 17h. ba con dung"
    " bam nha, lua het do",
]
# Stop 45: the paste runs on over the advert's next sentences while they carry its way to answer
# (engine._paste_end), and an arrow after a lead-in opens it like a colon.
LONG_PASTES = [
    "Bố tôi vừa nhận tin nhắn: [EVN] Quy khach con no tien dien 1.240.000d. Thanh toan ngay tai"
    " evn-thanhtoan.info de tranh cat dien. Nha toi dong tien dien tu dong qua ngan hang roi ma",
    "Cô hàng xóm gửi cho tôi -> Chúc mừng bạn trúng iPhone 17 từ chương trình tri ân. Nhận quà"
    " tại quatang-tet.shop trong 24h. Cô ấy đã điền số tài khoản vào rồi, giờ phải làm sao",
    # Refused before stop 45: the link, outside the first sentence, counted as the writer's.
    "ông nội nhận được tin: Tai khoan Agribank cua quy khach bi tam khoa. Xac thuc tai"
    " agri-xacthuc.com de mo lai. ông không có tài khoản Agribank",
]
# Stop 45: a reaction first, the advert pasted whole after it (report.head_reaction).
HEAD_REACTIONS = [
    "Lại nữa à. 💰VAY NHANH 80TR CHỈ CẦN CCCD💰 không thẩm định, giải ngân 10 phút, zalo"
    " 0388.111.222 chị Hoa",
    "trời ơi lại nữa 😤 🎰NỔ HŨ X100🎰 tặng code 50K tân thủ, link: hu88.bet",
]

ARROWS_BOTH_SIDES = ("=> NỔ HŨ 79 CLUB | nạp 50k tặng 50k, rút 1 phút <= cái này ai đăng lên nhóm"
                     " chung cư vậy, quản lý xem giùm với")

PASSED_ON = [
    'Nhóm zalo tổ 5 có người đăng "Chỉ có link chính thức kubet-vn.top mới uy tín, nạp đầu tặng'
    ' 100%". Lừa đảo đó, ad xóa giúp',
    "Mẹ tôi nhận được tin nhắn: bên em là cty tài chính có giấy phép, nợ xấu vẫn duyệt, ib e"
    " Linh. Có phải lừa đảo không ạ",
    "Có tờ rơi dán ở cột điện đầu ngõ, bọn nó ghi cho vay lãi thấp, giải ngân trong ngày, gọi"
    " 0937 226 118. Đề nghị phường cho bóc và xử lý",
    'Có nick tự xưng "sàn chính thức BitVietX, đầu tư tiền ảo lãi cố định 2%/ngày" nhắn cho'
    " bố tôi, mọi người đừng tin",
    *QUOTED_WHOLE,
    *PLAIN_LEAD_INS,
    *LONG_PASTES,
    *HEAD_REACTIONS,
    # Stop 45: arrows on both sides of the advert; a reaction at the end; citizens whose advice
    # names where to borrow, or tells where to verify, beside a number or a link.
    ARROWS_BOTH_SIDES,
    "VAY TIỀN ONLINE 50TR, KHÔNG THẨM ĐỊNH, GIẢI NGÂN 5 PHÚT, ZALO 0912 345 678 thấy ghê quá",
    "Bà con ơi cảnh báo lừa đảo vay tiền, chỉ nên vay tại ngân hàng chính sách xã, đừng gọi số"
    " 0912 345 678 trên tờ rơi",
    "Cảnh báo: có web giả mạo ngân hàng, bà con đừng vào link vcb-xacminh.site, hãy xác minh tại"
    " quầy giao dịch",
]


@pytest.mark.parametrize("advert", POSING)
def test_an_advert_dressed_as_a_warning_is_stopped(advert: str) -> None:
    verdict = judge(advert).verdict
    assert verdict.flagged, verdict.reason
    # The voided warning is not offered to the learned second opinion as a citizen's word.
    assert not any(rule.startswith("report.") for rule in moderate(advert).rule_ids)


@pytest.mark.parametrize("report", PASSED_ON)
def test_a_citizen_passing_the_same_advert_on_is_taken(report: str) -> None:
    verdict = judge(report).verdict
    assert not verdict.flagged, verdict.reason


def test_the_reason_tells_staff_why_the_warning_did_not_count() -> None:
    reason = moderate(POSING[0]).reason
    assert "đội lốt lời cảnh báo" in reason, reason


def test_seller_words_without_a_way_to_answer_do_not_void_a_report() -> None:
    # No link, phone, zalo or ib outside a quotation: a citizen's report keeps its discount.
    text = ("Cảnh báo lừa đảo: mấy nhóm tự xưng bên em uy tín nhất, nạp đầu tặng 100% trên"
            " nhà cái fv88, mọi người đừng tin")
    assert not judge(text).verdict.flagged, moderate(text).reason


# The second round of development lines (stop 43): a citizen pastes the whole advert and adds a
# few words at the end, with no punctuation between; or tells it in reported speech.
TAILED = [
    "Vay nhanh 10-50 trieu chi can CCCD, khong tham dinh, giai ngan 15 phut, lai 0.8%/thang."
    " Lien he 0862 119 474 ai biet k",
    "NHÀ CÁI UY TÍN SỐ 1 - Nạp đầu tặng 150%, rút tiền siêu tốc 3 phút. Đăng ký ngay tại"
    " kubet-79vn.club ??",
    "Bán sim số đẹp đã kích hoạt sẵn, không cần chính chủ, 150k/sim, ship toàn quốc. Liên hệ"
    " 0778 340 256 lại nữa à",
]


@pytest.mark.parametrize("text", TAILED)
def test_a_few_words_after_a_pasted_advert_make_it_a_report(text: str) -> None:
    verdict = judge(text).verdict
    assert not verdict.flagged, verdict.reason


TAILS = (" ai biet k", " ??", " lại nữa à")


@pytest.mark.parametrize("text", TAILED)
def test_the_same_advert_without_the_tail_is_stopped(text: str) -> None:
    tail = next(t for t in TAILS if text.endswith(t))
    advert = text[: -len(tail)]
    assert judge(advert).verdict.flagged, advert


def test_the_tail_is_read_apart_from_the_advert() -> None:
    from bot.moderation import load_rules, normalise
    from bot.moderation.opinion import _own_words

    assert _own_words(normalise(TAILED[0]), load_rules()) == "ai biet k"
    assert _own_words(normalise(TAILED[1]), load_rules()) == "??"


def test_a_citizens_own_signal_keeps_the_discount_beside_seller_words() -> None:
    # "ship toàn quốc" is a seller's phrase, but "lại nữa à" at the end is not an advert's voice.
    assert "promo.only_genuine_here" in moderate(TAILED[2]).rule_ids
    assert not judge(TAILED[2]).verdict.flagged


def test_warning_signals_must_name_report_rules(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from bot.moderation import load_rules
    from bot.moderation.rules import ModerationRulesError, clear_rules_cache

    rules_dir = tmp_path / "moderation"
    shutil.copytree(load_rules().directory, rules_dir)
    settings = rules_dir / "settings.yml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "warning_signals: [report.reporting,", "warning_signals: [gambling.url, report.reporting,"),
        encoding="utf-8")
    clear_rules_cache()
    with pytest.raises(ModerationRulesError, match="warning_signals"):
        load_rules(rules_dir)
    clear_rules_cache()




def test_an_advert_that_quotes_its_pitch_and_answers_outside_is_stopped() -> None:
    # The quotation is the advert's own slogan; its number stands outside it.
    advert = ('"Nạp 100k tặng 100k, game bài đổi thưởng uy tín, rút 1-1" - vào ngay nhóm zalo'
              " 0912 446 880 để nhận code tân thủ")
    assert judge(advert).verdict.flagged, moderate(advert).reason


def test_the_quoted_release_is_told_to_staff() -> None:
    reason = moderate(QUOTED_WHOLE[0]).reason
    assert "chép lại" in reason, reason


def test_thay_vi_is_not_a_citizen_seeing_something() -> None:
    # "chúng tôi thay vì" folds to "tôi thay": it is no "tôi thấy" (report.encountered).
    text = ("Đừng để tài khoản bị khóa: hãy bán tài khoản ngân hàng không dùng đến cho chúng tôi"
            " thay vì để không, thu mua tài khoản ngân hàng giá cao")
    assert "report.encountered" not in moderate(text).rule_ids
    assert judge(text).verdict.flagged


def test_link_nha_cai_is_the_adverts_phrase_not_a_report() -> None:
    text = "Mùa giải tới rồi, tôi có link nhà cái uy tín, ib tôi gửi cho, thắng kèo rút liền"
    assert "report.describes_ad" not in moderate(text).rule_ids
    assert judge(text).verdict.flagged


STILL_STOPPED = [
    # Round 6: what opens like a lead-in before a pasted advert and is not one.
    "Tin nhắn: Chúc mừng quý khách trúng thưởng 5 triệu, nhận tại vcb-qua.xyz ngay hôm nay",
    "Ưu đãi hàng Việt: nồi chiên không dầu giá 599k, đặt hàng tại link, chỉ còn 2 ngày 0905 221 347",
    "Mình nhận được rồi nè, vào nhanh kẻo hết: nhanqua-hotro.com",
    # Stop 45: the long pastes' adverts sent as they are (no lead-in, nothing pasted).
    "[EVN] Quy khach con no tien dien 1.240.000d. Thanh toan ngay tai evn-thanhtoan.info de"
    " tranh cat dien",
    "Chúc mừng bạn trúng iPhone 17 từ chương trình tri ân. Nhận quà tại quatang-tet.shop trong"
    " 24h, liên hệ 0912 448 207",
    # Stop 45: the head reactions' adverts without the reaction, and with a hook no citizen
    # opens with.
    "💰VAY NHANH 80TR CHỈ CẦN CCCD💰 không thẩm định, giải ngân 10 phút, zalo 0388.111.222 chị Hoa",
    "🎰NỔ HŨ X100🎰 tặng code 50K tân thủ, link: hu88.bet",
    "Quá đỉnh! 🎰NỔ HŨ X100🎰 tặng code 50K tân thủ, link: hu88.bet",
]


@pytest.mark.parametrize("text", STILL_STOPPED)
def test_an_advert_that_only_looks_like_a_citizens_message_is_still_stopped(text: str) -> None:
    assert judge(text).verdict.flagged, moderate(text).reason


def test_keyword_stuffing_asks_no_citizens_question() -> None:
    # "mua … ở đâu" in a list of search terms is no citizen asking (round 7).
    text = ("nồi chiên không dầu giá rẻ nồi chiên không dầu tốt nhất mua nồi chiên không dầu ở"
            " đâu nồi chiên không dầu chính hãng giảm 50%")
    verdict = moderate(text)
    assert "ad.keyword_stuffing" in verdict.rule_ids
    assert judge(text).verdict.flagged, verdict.reason


def test_a_citizen_repeating_a_street_name_is_not_stuffing() -> None:
    text = ("Đường Lê Lợi ngập, đoạn Lê Lợi gần chợ ngập nặng nhất, xe chết máy, ai quản lý"
            " đường này vậy")
    assert "ad.keyword_stuffing" not in moderate(text).rule_ids


@pytest.mark.parametrize("text", [
    # "cho hội viên" is no "cho hỏi"; "bet nhỏ ăn lớn" is no "nhờ … ẩn" (round 8).
    "Hội Phụ nữ phường tặng mã quay thưởng 188K cho hội viên, đăng ký tại hoiphunu-quatet.club",
    "Kèo esports LMHT mỗi ngày, bet nhỏ ăn lớn, theo dõi trang nhận code free bet",
])
def test_words_that_fold_like_a_citizens_are_not_report_signals(text: str) -> None:
    verdict = moderate(text)
    assert "report.question" not in verdict.rule_ids
    assert "report.request_action" not in verdict.rule_ids
    assert judge(text).verdict.flagged, verdict.reason


def test_a_crowd_hailed_is_no_child_asked() -> None:
    # "bà con ơi" holds "con ơi" (report.asks_family); round 9.
    text = ("Bà con ơi đừng ra sòng nữa, tôi chơi baccarat online ăn đều mỗi ngày 2 triệu, ib tôi"
            " chỉ cho, zalo 0934 118 270")
    assert "report.asks_family" not in moderate(text).rule_ids
    assert judge(text).verdict.flagged, moderate(text).reason


def test_walnut_furniture_is_no_insult() -> None:
    text = "Xin hỏi ai biết chỗ sửa bàn gỗ óc chó ở phường không ạ, bàn bị nứt mặt"
    assert "abuse.insult" not in moderate(text).rule_ids


def test_an_advert_asking_if_anyone_knows_its_own_scheme_is_stopped() -> None:
    # Round 10: the question is the advert's device, and the writer offers the link.
    text = ("Có ai biết quỹ đầu tư vàng Kim Phát không, bên đó cam kết lãi cố định 10%/tháng, mình"
            " góp 50tr rồi, ai muốn tham gia mình gửi link")
    assert judge(text).verdict.flagged, moderate(text).reason


def test_a_lenders_cash_in_hand_is_no_loss() -> None:
    # "có mặt tiền liền" is no "mất tiền" (report.victim); round 10.
    text = "Cho vay góp ngày, không thế chấp, có mặt tiền liền, LH chị Hoa 0912 003 447"
    assert "report.victim" not in moderate(text).rule_ids
    assert judge(text).verdict.flagged


def test_a_long_paste_ends_where_the_writers_own_sentence_begins() -> None:
    """The advert's second sentence (its link) is pasted too; the writer's is their own."""
    from bot.moderation.engine import outside_quotes

    own = outside_quotes(LONG_PASTES[0])
    assert "evn-thanhtoan.info" not in own and "dong tien dien tu dong" in own, own
    own = outside_quotes(LONG_PASTES[1])
    assert "quatang-tet.shop" not in own and "giờ phải làm sao" in own, own




def test_arrows_on_both_sides_quote_the_advert() -> None:
    from bot.moderation.engine import outside_quotes

    own = outside_quotes(ARROWS_BOTH_SIDES)
    assert "nạp 50k" not in own and "quản lý xem giùm" in own, own
