"""One message each moderation rule must catch, and one it must leave alone (issue 12).

Issue 12: "Every rule has a test with a phrase it must catch and a phrase it must not (e.g. 'ngủ',
'bọn trẻ', 'chết' in 'ngập chết đi được')." :data:`EXAMPLES` maps every rule id of
``content/moderation/*.yml`` to ``(catch, spare)``:

``catch``
    A message as a spammer, a scammer or an angry writer would post it on Facebook or Zalo. The
    rule must be among the rules that :func:`bot.moderation.moderate` reports for it
    (``Verdict.rule_ids``). Supporting rules (``boost_only``, ``signal.*``, ``report.*``) are only
    looked for when a deciding rule of the right kind matched, so their catch carries one too, as
    real messages do.
``spare``
    A near miss, usually an innocent citizen's message that shares a word with the rule ("công an
    đang làm nhiệm vụ", "ngập chết đi được", "bọn trẻ không ngủ được"). The rule's own words
    (terms, patterns, links) must not match it at all, whether or not the engine would have looked
    for that rule in this message: :func:`_matching_rules` runs every rule, without the shortcut
    that skips supporting rules.

Why: a trainer who widens a rule (adds a term, loosens a pattern) sees here the innocent phrase it
would now hit, and a new rule cannot be added without saying what it catches and what it spares:
:func:`test_every_rule_has_an_example` fails until the table has a line for it (and when a rule is
removed, until its line goes).

:data:`SPARE_STILL_HIT` lists the near misses a rule still hits today. Their cases are strict
``xfail``: they document a fault of the rule, and fail (XPASS) once the rule is fixed, so the mark
is removed then. Do not weaken a spare to make it pass; fix the rule or leave the mark.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.moderation import ModerationRules, load_rules, moderate, normalise
from bot.moderation.engine import _hits, find_urls, quoted_spans
from bot.moderation.gate import apply_policy

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "content" / "moderation"

#: rule id -> (a message the rule must catch, a near miss it must not match).
EXAMPLES: dict[str, tuple[str, str]] = {
    # ------------------------------------------------------------------ abuse.yml
    "abuse.obscene": (
        "Đéo ai chịu nổi cái mùi rác ở chợ này nữa, tháng nào cũng thế",
        "Cháu đeo khẩu trang cả ngày mà vẫn ho vì khói đốt rác ở bãi đất lớn",
    ),
    "abuse.obscene_teencode": (
        "vcl đường vừa trải nhựa xong lại đào lên, dm bọn nhà thầu",
        "Tối qua mấy thanh niên uống vài lon bia rồi hát karaoke đến 2h sáng",
    ),
    "abuse.insult": (
        "Mấy ông cán bộ phường ngu như bò, hỏi gì cũng không biết",
        "Nhà tôi nuôi con chó nhỏ, hàng xóm kêu nó sủa nhưng tôi đã nhốt trong nhà rồi",
    ),
    "abuse.threat": (
        "Mày cứ báo phường đi, tao biết nhà mày rồi, liệu hồn đấy",
        "Mưa to một tiếng mà ngõ 12 ngập chết đi được, xe máy chết máy hàng loạt",
    ),
    "abuse.address": (
        "Bọn mày là lũ ăn hại, có mỗi cái đèn đường cũng không sửa",
        "Karaoke nhà bên hát đến 1h sáng, bọn trẻ không ngủ được",
    ),
    "abuse.mild": (
        "Cán bộ gì mà vô dụng thế, đồ ăn hại",
        "Tối nào hàng xóm cũng hát karaoke đến khuya, con tôi không ngủ được",
    ),
    "abuse.contempt": (
        "thôi im đi con bot ngu, cả lũ vô tích sự",
        "Sau một tuần con bot ngủ rồi à, hỏi mãi không thấy trả lời, do dân tự lo hết",
    ),
    # ------------------------------------------------------------------ account_trade.yml
    "trade.bank_account": (
        "Thu mua tài khoản ngân hàng chính chủ giá cao, đã ekyc khuôn mặt, ib zalo",
        "Cho tôi hỏi mở tài khoản ngân hàng cho con để nhận học bổng thì cần giấy tờ gì",
    ),
    "trade.sim": (
        "Bán sim đã kích hoạt sẵn, sim nhận otp số lượng lớn, giao toàn quốc",
        "Tôi muốn đăng ký lại sim chính chủ cho mẹ thì ra cửa hàng nào ạ",
    ),
    "trade.social_accounts": (
        "Bán acc facebook cổ, via cổ tạo 2015, bảo hành 7 ngày",
        "Bà bán rau đầu ngõ nhờ tôi hỏi cách lập trang facebook để bán hàng",
    ),
    "trade.buyback": (
        "Ai có tài khoản ngân hàng không dùng đến thì bán lại cho mình, thu giá cao",
        "Nhà tôi bán lại xe máy cũ cho hàng xóm thì có phải sang tên ở phường không",
    ),
    "trade.unused_accounts": (
        "Thu tài khoản không dùng đến giá cao, có người đến tận nơi, thanh toán ngay",
        "Cho tôi hỏi tài khoản VNeID lâu không dùng có bị khóa không",
    ),
    "trade.sim_sale": (
        "Bán sim 4G data khủng 12 tháng không cần nạp tiền, giao tận nơi, lh 0987 246 135",
        "Sóng điện thoại trong xóm yếu quá, gọi điện cứ mất tín hiệu",
    ),
    "trade.fake_papers": (
        "Nhận làm bằng đại học, bằng cấp 3, phôi thật, bao tra cứu",
        "Con tôi mất bằng tốt nghiệp cấp 3, cần làm lại bản sao thì liên hệ ở đâu",
    ),
    "trade.identity": (
        "Thu mua cccd, mở tài khoản ngân hàng hộ, xác thực khuôn mặt hộ, trả 500k một bộ",
        "Bà tôi 80 tuổi không đi được, phường có cán bộ đến nhà làm căn cước cho người già không ạ",
    ),
    # ------------------------------------------------------------------ ad_spam.yml
    "ad.pitch": (
        "Kem trộn trắng da cấp tốc, freeship toàn quốc, inbox ngay để được tư vấn",
        "Phường có buổi tư vấn pháp luật miễn phí cho người dân không ạ",
    ),
    "ad.growth_services": (
        "Dịch vụ tăng like, tăng follow, buff mắt livestream giá rẻ",
        "Trang của phường đăng thông báo mà ít người like quá, nên chia sẻ vào nhóm zalo tổ dân phố",
    ),
    "ad.sale_talk": (
        "Thanh lý xả kho giày dép đồng giá 99k, ship cod toàn quốc, ib shop",
        "Cửa hàng đầu ngõ bày hàng tràn ra vỉa hè, người đi bộ phải xuống lòng đường",
    ),
    "ad.services": (
        "Nhận thông tắc bồn cầu, hút bể phốt giá rẻ, có mặt sau 30 phút, gọi 0977 135 246",
        "Xe chở bùn đổ trộm chất thải ra mương đầu làng, mùi không chịu nổi",
    ),
    "ad.products": (
        "Thuốc giảm cân gia truyền, không cần ăn kiêng, freeship toàn quốc",
        "Mẹ tôi bị đau khớp gối, trạm y tế phường có khám cho người cao tuổi không",
    ),
    # ------------------------------------------------------------------ earn_money.yml
    "earn.easy_money": (
        "Việc nhẹ lương cao, kiếm tiền online tại nhà chỉ cần điện thoại",
        "Cháu đi làm công nhân lương thấp, muốn hỏi về vay vốn học nghề để kiếm tiền nuôi mẹ",
    ),
    "earn.tasks": (
        "Nhận nhiệm vụ trên app, làm nhiệm vụ xong rút tiền ngay",
        "Công an phường đang làm nhiệm vụ ở đầu ngõ",
    ),
    "earn.job_pitch": (
        "Tuyển cộng tác viên làm online tại nhà, không cần vốn, không cần kinh nghiệm, "
        "trả lương trong ngày",
        "Trung tâm dịch vụ việc làm quận có tuyển lao động đi làm ở khu công nghiệp không, "
        "cho tôi đăng ký",
    ),
    "earn.commission": (
        "Làm nhiệm vụ nhận hoa hồng cao, thu nhập 300-500k/ngày, rút tiền hằng ngày",
        "Xe thu gom rác chỉ đến 2 lần một tuần, rác ùn ứ cả ngõ",
    ),
    "earn.commission_word": (
        "Làm nhiệm vụ like video nhận hoa hồng 10%, ib mình",
        "Hội phụ nữ phường tặng hoa cho các mẹ nhân ngày 20/10",
    ),
    "earn.investment": (
        "Đầu tư tiền ảo cùng chuyên gia, 1 vốn 4 lời, x10 tài khoản sau 1 tuần",
        "Con tôi đầu tư mở xưởng mộc, có được vay vốn giải quyết việc làm không",
    ),
    "earn.account_trade": (
        "Cần thuê tài khoản ngân hàng chính chủ, trả 2 triệu một tháng, không rủi ro",
        "Bố tôi mất, gia đình cần làm thủ tục đóng tài khoản ngân hàng của ông",
    ),
    "earn.deposit_first": (
        "Việc làm tại nhà xâu hạt, cọc nguyên liệu 500k, hàng về trả công ngay",
        "Chủ nhà trọ giữ tiền cọc của tôi không trả, tôi phải làm sao",
    ),
    "earn.home_crafts": (
        "Nhận hàng về nhà làm: dán tem, xâu hạt, đóng gói tại nhà, trả công theo sản phẩm",
        "Nhà văn hóa tổ dân phố dán thông báo lịch tiêm chủng ở đâu ạ",
    ),
    "earn.overseas": (
        "Tuyển lao động sang Campuchia, không cần ngoại ngữ, bao ăn ở, bay nhanh, lương 1000 usd",
        "Con tôi đi xuất khẩu lao động Nhật Bản qua công ty, cho hỏi cách kiểm tra công ty "
        "có giấy phép không",
    ),
    "earn.pay_to_work": (
        "Nhập liệu online tại nhà, đóng phí tài liệu 300k là có việc ngay",
        "Hồ sơ xin trợ cấp của mẹ tôi có mất phí không, nộp ở bộ phận một cửa phải không",
    ),
    "earn.url": (
        "Kiếm tiền tại nhà mỗi ngày, đăng ký tại kiemtien365.com nhận ngay 50k",
        "Tôi đọc trên baomoi.com thấy phường sắp cắt điện, có đúng không",
    ),
    "earn.crypto_signal": (
        "Vào room tín hiệu vàng, kèo long short mỗi ngày, lợi nhuận 5%/ngày",
        "Tiệm vàng đầu ngõ có dấu hiệu bán vàng giả, đề nghị kiểm tra",
    ),
    "earn.crypto_pitch": (
        "Cộng đồng trade coin miễn phí, kèo futures mỗi ngày, staking USDT lãi 1.5%/ngày",
        "Tôi bị lừa đầu tư trên một sàn lạ mất 200 triệu, đề nghị công an điều tra",
    ),
    "earn.crypto_words": (
        "Đầu tư BTC cùng chuyên gia, cam kết lợi nhuận, vào nhóm VIP chốt lời mỗi ngày",
        "Tôi muốn hỏi về lợi nhuận của hợp tác xã chia cho xã viên năm nay",
    ),
    # ------------------------------------------------------------------ gambling.yml
    "gambling.brand_names": (
        "FV88 nhà cái uy tín số 1, nạp đầu tặng 100%",
        "Nhà tôi ở số 88 ngõ 12, đường ống thoát nước bị vỡ",
    ),
    "gambling.brand_pattern": (
        "Sân chơi đẳng cấp top88, đăng ký nhận 88k",
        "Tuyến buýt số 88 đổi lộ trình, không còn dừng trước cổng chợ",
    ),
    "gambling.games": (
        "Cổng game bài đổi thưởng, nổ hũ jackpot mỗi ngày, tải app nhận code",
        "Cuối tuần nào cũng có người đá gà ở bãi đất trống sau đình, ồn ào lắm",
    ),
    "gambling.games_plain": (
        "Tài xỉu, xóc đĩa, bắn cá đủ cả, nạp rút nhanh",
        "Con tôi mê chơi game trên điện thoại cả ngày, phường có lớp kỹ năng hè không",
    ),
    "gambling.operator_talk": (
        "Soi kèo ngoại hạng anh tối nay, kèo thơm, vào tiền ngay",
        "Mái nhà văn hóa thôn bị mối ăn hết kèo, mưa là dột",
    ),
    "gambling.promo": (
        "Nạp đầu tặng 100%, nhập code tân thủ nhận 88k",
        "Tiền điện tháng này tăng 2 lần so với tháng trước",
    ),
    "gambling.register_brand": (
        "Đăng ký: hi88 nhận ngay 88k",
        "Muốn đăng ký xe máy ở phường thì mang giấy tờ gì, nhà tôi ở tổ 12",
    ),
    "gambling.site_talk": (
        "Link vào fv88 mới nhất không bị chặn, trang chủ chính thức",
        "Cổng thông tin điện tử của phường không vào được",
    ),
    "gambling.topic": (
        "Cá độ bóng đá online uy tín, nhà cái fv88",
        "Tối nào cũng có mấy ông ngồi đánh cờ tướng ở gốc cây đầu ngõ",
    ),
    "gambling.url": (
        "Tải app tại fv88bet.com nhận code 88k",
        "Đặt lịch tiêm vắc xin cho con ở trang vnvc.vn được không",
    ),
    "gambling.money_88k": (
        "Đăng ký fv88 nhận ngay 88k",
        "Tiền rác mỗi tháng thu 88 nghìn một hộ, sao phường bên chỉ thu 40 nghìn",
    ),
    # ------------------------------------------------------------------ loan.yml
    "loan.fast_loan": (
        "Vay tiền nhanh online, không thế chấp, giải ngân trong 30 phút",
        "Hộ nghèo muốn vay vốn ngân hàng chính sách để chăn nuôi thì làm hồ sơ ở đâu",
    ),
    "loan.loan_products": (
        "Hỗ trợ vay tín chấp, gói vay 50 triệu, giải ngân ngay",
        "Hội nông dân xã có chương trình vay vốn ưu đãi cho hộ nuôi bò không ạ",
    ),
    "loan.no_collateral": (
        "Cho vay không cần thế chấp, nợ xấu vẫn vay được",
        "Ngân hàng chính sách cho hộ nghèo vay có cần thế chấp sổ đỏ không ạ",
    ),
    "loan.easy_process": (
        "Vay tiền nhanh hồ sơ đơn giản, có mặt tận nơi, alo là có",
        "Phường có cán bộ đến tận nhà người già làm căn cước không",
    ),
    "loan.easy_documents": (
        "Vay đến 50 triệu chỉ cần cccd, không cần gặp mặt",
        "Đi rút lương hưu có cần mang căn cước không hay chỉ cần sổ hưu",
    ),
    "loan.fast_money": (
        "Giải ngân trong 15 phút, duyệt tự động, tiền về ngay",
        "Tiền hỗ trợ lũ lụt của xã bao giờ mới về tài khoản, nhà tôi chưa nhận được",
    ),
    "loan.interest_pitch": (
        "Cho vay lãi suất thấp nhất, lãi 0% tháng đầu",
        "Vay vốn ngân hàng chính sách lãi suất bao nhiêu một tháng",
    ),
    "loan.credit_repair": (
        "Nhận xóa nợ xấu, xóa lịch sử nợ CIC, làm đẹp hồ sơ vay",
        "Tôi đã trả hết nợ ngân hàng mà vẫn bị ghi nợ xấu, muốn khiếu nại",
    ),
    "loan.url": (
        "Vay tiền nhanh tại vaynhanh247.vip, duyệt 5 phút",
        "Tôi tìm thấy số tổng đài hỗ trợ vay vốn trên trang thuvienphapluat.vn",
    ),
    # ------------------------------------------------------------------ reporting_signals.yml
    # A report rule only lowers a score, so its catch is a citizen reporting spam in the spam's
    # own words; its near miss may as well be spam that sounds like a report.
    "report.victim": (
        "Tôi bị lừa mất 20 triệu qua link vay tiền nhanh",
        "Tài khoản của bạn sẽ bị khóa trong 24h, xác thực ngay tại vcb-xacthuc.com",
    ),
    "report.request_action": (
        "Đề nghị công an xử lý nhóm dán quảng cáo vay tiền nhanh khắp cột điện",
        "Tôi đề nghị được cấp lại giấy khai sinh cho con",
    ),
    "report.reporting": (
        "Cảnh báo bà con: có nhóm gọi điện giả danh công an bắt chuyển toàn bộ số dư "
        "vào tài khoản an toàn",
        "Thông báo của phường về lịch tiêm phòng dại đã dán ở nhà văn hóa",
    ),
    "report.scam_naming": (
        "Đây là trang giả mạo Vietcombank, link vietcombank-xacthuc.com",
        "Không lừa đảo, uy tín 100%, vay tiền nhanh liên hệ 0912345678",
    ),
    "report.received": (
        "Tôi nhận được tin nhắn báo trúng thưởng iphone, bảo đóng phí vận chuyển",
        "Phường đã nhận hồ sơ của tôi từ tuần trước mà chưa có kết quả",
    ),
    "report.describes_ad": (
        "Fanpage của xã có bình luận quảng cáo cờ bạc fv88",
        "Cho hỏi treo biển quảng cáo trước cửa hàng có cần xin phép phường không",
    ),
    "report.scam_question": (
        "Tin nhắn bảo tài khoản sẽ bị khóa, xác thực tại vcb-verify.com, có phải lừa đảo không ạ",
        "Nhà cái FV88 là lựa chọn số 1 của cược thủ Việt",
    ),
    "report.third_party": (
        "Có người gọi điện xưng là công an, đòi chuyển tiền vào tài khoản an toàn",
        "Phường có tổ chức tiêm vắc xin sởi cho trẻ không",
    ),
    "report.contempt_for_sellers": (
        "Bọn bán sim rác như cc, đứng chắn cả cổng trường",
        "Bọn mình bán bánh chưng gây quỹ cho hội người cao tuổi, ai ủng hộ thì nhắn nhé",
    ),
    "report.question": (
        "Cho tôi hỏi app vay tiền nhanh này có phải của ngân hàng không?",
        "Cho vay tiền nhanh, giải ngân trong ngày, không thế chấp.",
    ),
    "report.hacked_page": (
        "Page của phường bị hack, đang đăng toàn bài cờ bạc fv88",
        "Fanpage của phường đăng thông báo lịch cắt điện rồi đấy",
    ),
    "report.public_programme": (
        "Có người tự xưng cán bộ ngân hàng chính sách mời hộ nghèo vay online, có đúng không?",
        "Ngân hàng gần nhà tôi có nhận hồ sơ vay mua nhà không",
    ),
    "report.first_person": (
        "Tôi thấy trên nhóm zalo có người rao vay tiền nhanh không thế chấp",
        "Tối nay phường có họp tổ dân phố không",
    ),
    "report.authority": (
        "Công an phường ơi, ngoài chợ có người phát tờ rơi vay tiền nhanh",
        "Cổng trường tiểu học ùn tắc giờ tan học, rất mất an toàn",
    ),
    "report.worry": (
        "Con tôi nghiện cá độ bóng đá online, gia đình bất lực, xin giúp đỡ",
        "Khu vui chơi trẻ em ở công viên rất lộn xộn, xe máy đi vào",
    ),
    "report.ask_admin": (
        "Admin xóa giùm mấy bình luận quảng cáo tài xỉu online với",
        "Admin nhóm ơi cho em hỏi lịch họp phụ huynh",
    ),
    # ------------------------------------------------------------------ scam.yml
    "scam.impersonating_url": (
        "Tài khoản của quý khách sẽ bị khóa, xác thực tại vietcombank-xacthuc.com",
        "Tôi xem tỷ giá trên vietcombank.com.vn thấy khác với ngoài quầy",
    ),
    "scam.phishing_url": (
        "Nhận quà tri ân tại quatang-trian.xyz trong 24h",
        "Tôi đặt hàng trên shopee.vn mà shipper không giao",
    ),
    "scam.account_threat": (
        "Tài khoản của bạn có đăng nhập bất thường và sẽ bị khóa trong 24h",
        "Thẻ ATM của mẹ tôi bị nuốt vì nhập sai mã PIN, ra đâu để lấy lại",
    ),
    "scam.verify_request": (
        "Cập nhật ngay thông tin tại vneid-capnhat.com để tránh bị khóa",
        "Cho hỏi cập nhật thông tin cư trú trên VNeID thì làm ở đâu",
    ),
    "scam.credentials": (
        "Quý khách vui lòng cung cấp mã OTP để hoàn tất hoàn tiền",
        "Ngân hàng dặn không cung cấp mã OTP cho bất kỳ ai",
    ),
    "scam.credentials_words": (
        "Nhân viên Vietcombank đây, đọc giúp mã OTP vừa gửi để hủy giao dịch bất thường",
        "Cho hỏi quên mật mã ví VNeID thì lấy lại thế nào",
    ),
    "scam.prize": (
        "Chúc mừng quý khách đã trúng thưởng xe SH, nhận quà tại link",
        "Hội khuyến học trao thưởng cho học sinh giỏi vào chủ nhật",
    ),
    "scam.gift_words": (
        "Chúc mừng bạn được chọn nhận phần quà tri ân 5 triệu",
        "Phường phát quà Tết cho hộ nghèo vào sáng mai",
    ),
    "scam.fee_first": (
        "Bạn cần chuyển phí vận chuyển 300k trước để nhận quà",
        "Đóng tiền điện tháng này ở đâu, bưu điện hay ngân hàng",
    ),
    "scam.authority_threat": (
        "Cơ quan điều tra thông báo tài khoản của ông liên quan vụ án rửa tiền, "
        "yêu cầu chuyển toàn bộ số dư",
        "Tôi nhận được giấy mời của công an phường lên làm việc về vụ tranh chấp đất",
    ),
    "scam.free_money_from_authority": (
        "Chương trình an sinh: mỗi hộ nhận 2 triệu, đăng ký tại ansinh-hotro.com",
        "Phường có phát gạo hỗ trợ cho hộ khó khăn không",
    ),
    "scam.app_install": (
        "Quý khách vui lòng cài đặt ứng dụng theo đường link để tích hợp căn cước",
        "Cán bộ phường hướng dẫn người già cài VNeID trên điện thoại, rất nhiệt tình",
    ),
    "scam.recovery": (
        "Hỗ trợ lấy lại tiền bị lừa qua mạng, luật sư lấy lại tiền trong 7 ngày, ib",
        "Tôi muốn nhờ hội luật gia phường tư vấn về tranh chấp đất với hàng xóm",
    ),
    "scam.emergency": (
        "Con đang ở viện, mẹ cần chuyển gấp vào tài khoản của bác sĩ 20 triệu, đừng gọi lại",
        "Mẹ tôi đang cấp cứu mà xe cứu thương không vào được ngõ vì ô tô đỗ chắn",
    ),
    "scam.delivery": (
        "Bưu phẩm của bạn bị giữ do sai địa chỉ, xác nhận lại địa chỉ tại vnpost-giaohang.xyz",
        "Bưu điện xã giao thư chậm cả tuần, giấy báo họp đến sau ngày họp",
    ),
    "scam.urgency": (
        "Tài khoản sẽ bị khóa, xác thực gấp tại vcb-online.com",
        "Khu tôi bị cắt nước từ hôm qua mà không có thông báo",
    ),
    # ------------------------------------------------------------------ signals.yml
    # Signals only add to a spam family, so each catch carries one.
    "signal.call_to_action": (
        "Đăng ký ngay fv88 nhận thưởng 88k",
        "Bà con đăng ký tiêm vắc xin cho trẻ tại trạm y tế phường",
    ),
    "signal.contact": (
        "Vay tiền nhanh, ai cần ib em",
        "Ai cũng cần có nước sạch, sao khu tôi mãi chưa có",
    ),
    "signal.phone": (
        "Vay nhanh gọi 0912 345 678",
        "Đường dây nóng của phường là 024 3856 1234 phải không",
    ),
    "signal.trust_claims": (
        "Nhà cái fv88 uy tín, cam kết không lừa đảo",
        "Cán bộ phường làm việc rất có tâm, tôi rất tin tưởng",
    ),
    "signal.free_money": (
        "Tặng ngay 100k cho tân thủ khi đăng ký fv88",
        "Phường có tặng quà Tết cho người cao tuổi không",
    ),
    "signal.big_promise": (
        "Tỷ lệ thắng 90%, thưởng lên đến 10 triệu, đăng ký fv88",
        "Nước lên đến đầu gối, cả ngõ ngập",
    ),
    "signal.link": (
        "Vào fv88vip.com nhận code tân thủ",
        "Thông tin chi tiết xem tại dichvucong.gov.vn",
    ),
    "signal.link_shortener": (
        "Vay nhanh tại bit.ly/vaynhanh24",
        "Mẫu đơn có trên trang thuvienphapluat.vn",
    ),
    "signal.emoji": (
        "🔥 Nhà cái fv88 👉 nạp đầu tặng 100% 💰",
        "Cảm ơn phường đã sửa đèn đường 👍",
    ),
    # ------------------------------------------------------------------ added for issue 12's
    # fourth blind set (families by structure; citizens addressing the Front). Each spare is a
    # citizen's message that uses the same kind of words.
    "trade.someone_elses_name": (
        "Cho thuê sim chính chủ đứng tên người khác, nhận otp thoải mái, 50k/tháng, ib",
        "Sim của mẹ tôi đăng ký bằng CCCD của bố, giờ muốn chuyển sang tên mẹ thì làm sao",
    ),
    "trade.bad_debt_card": (
        "Nhận mở thẻ tín dụng cho người nợ xấu, hạn mức 50 triệu, lh 0987654321",
        "Tôi bị ghi nợ xấu vì khoản vay cũ đã trả hết, ngân hàng không cho mở thẻ, đề nghị xem xét",
    ),
    "ad.sex_products": (
        "Thuốc cường dương hàng nội địa Nhật, bảo mật đơn hàng, giao nhanh 1h, gọi 0912 345 678",
        "Con tôi tuổi dậy thì, trạm y tế phường có tư vấn sức khỏe sinh sản cho học sinh không ạ",
    ),
    "ad.miracle_cure": (
        "Thảo dược gia truyền trị dứt điểm xương khớp, khỏi sau 1 liệu trình, giá 390k, gọi 0978111222",
        "Bố tôi bị tiểu đường, xin hỏi trạm y tế phường có khám miễn phí cho người cao tuổi không",
    ),
    "ad.property_yield": (
        "Đất nền sổ đỏ ven đô sinh lời 30% sau 6 tháng, ngân hàng hỗ trợ 70%, lh 0909888777",
        "Khu đất nền bỏ hoang cạnh nhà tôi cỏ mọc cao, rắn bò vào nhà, đề nghị chủ đầu tư dọn dẹp",
    ),
    "ad.debt_collection": (
        "Dịch vụ đòi nợ khó đòi uy tín, thu hồi công nợ nhanh, phí thấp, liên hệ 0911222333",
        "Người ta cho tôi vay tiền rồi ngày nào cũng đến nhà chửi bới, đề nghị công an can thiệp",
    ),
    "loan.debt_consolidation": (
        "App gộp nợ: tất toán các khoản vay app, chỉ còn trả 1 khoản lãi thấp, tải app ngay",
        "Tôi vay ngân hàng chính sách để nuôi con ăn học, năm nay khó khăn xin gia hạn được không",
    ),
    "gambling.esports_racing": (
        "Cá cược esport Liên Quân, Dota, nạp tối thiểu 50k, hoàn cược 1.5%, link ở bio",
        "Phường có tổ chức giải thi đấu Liên Quân cho thanh niên dịp hè không ạ",
    ),
    "earn.fee_for_job": (
        "Xuất khẩu lao động Hàn Quốc, đặt cọc 30 triệu bao đậu visa, bay sau 2 tháng, lh chị Lan",
        "Con tôi muốn đi làm việc ở Hàn Quốc theo chương trình của nhà nước, đăng ký ở đâu ạ",
    ),
    "earn.fake_shares": (
        "Đầu tư cổ phần số, mua 1 cổ phần 1 triệu nhận cổ tức 5% mỗi tháng, tham gia nhóm zalo",
        "Hợp tác xã của thôn họp bàn chia lãi cuối năm cho xã viên, tôi chưa được mời họp",
    ),
    "offer.price": (
        "Thuê số nhận mã OTP đăng ký app, 5k/mã, tự động 24/7, link web trong bio",
        "Cho hỏi giá vé gửi xe ở chợ phường là bao nhiêu, người trông xe thu không có vé",
    ),
    "offer.ease": (
        "Thuê căn cước đăng ký tài khoản, không mất gì, trả 200k một lần, ai có nhu cầu ib",
        "Tôi đã nộp hồ sơ làm căn cước cho con ba tuần rồi mà chưa có, phường kiểm tra giúp",
    ),
    "offer.gain": (
        "Góp vốn 10 triệu nhận lợi nhuận 1 triệu mỗi tháng, vào nhóm zalo để được hướng dẫn",
        "Công ty nợ lương công nhân hai tháng, chúng tôi đề nghị phường làm việc với chủ",
    ),
    "offer.service": (
        "Bên em nhận đòi nợ khó đòi trên toàn quốc, không thu phí trước, lh 0979 111 000",
        "Xe rác của công ty môi trường hai hôm nay không đến, rác ngập đầu ngõ",
    ),
    "signal.handle": (
        "Kèo Liên Quân tối nay, nạp rút nhanh, vào group tele @aickeo để nhận tỷ lệ",
        "Email của tôi là nguyenvana@gmail.com, nhờ phường gửi lại biên bản hòa giải",
    ),
    "report.addressing": (
        'Ad ơi trong nhóm có tin "vay góp ngày không thế chấp", xóa giúp em',
        "Vay góp ngày không thế chấp, có mặt tận nơi, gọi 0888 222 333",
    ),
    "report.encountered": (
        "Em bị add vào nhóm tele đầu tư cổ phần số, họ hứa cổ tức 5% mỗi tháng",
        "Đầu tư cổ phần số, cổ tức 5% mỗi tháng, tham gia nhóm zalo ngay",
    ),
    "report.is_it_real": (
        "Cái app gộp nợ tất toán các khoản vay này có uy tín không ạ, em đang nợ mấy app",
        "App gộp nợ uy tín, tất toán các khoản vay app, tải app ngay",
    ),
    "report.warning_others": (
        "Cả nhà đừng bấm vào vietcombank-xacthuc.com nhé, tin nhắn đó giả đấy",
        # Folded, "dùng" is "đừng": the rule reads the marks.
        "Thẻ ATM của mẹ tôi dùng chuyển tiền được mà rút không được, đừng bỏ lỡ giờ làm việc",
    ),
    "report.narrates_others": (
        "Số này gọi cho tôi xưng là công an, bảo cài app tại dichvucong-vn.com để nhận tiền",
        "Loa phường đóng vai trò quan trọng, khu tư nhân là chủ yếu mà loa hỏng cả tháng",
    ),
    "report.passes_on": (
        "Nguyên văn tin nhắn: Tài khoản của quý khách bị khóa, xác thực tại "
        "vietcombank-xacthuc.com. Ai biết số này của ai không",
        "Tin vui: phường đã sửa xong đèn đường ngõ 7, cảm ơn các anh",
    ),
    "report.identity_misused": (
        "Có người lấy CCCD của mẹ tôi làm sim chính chủ đứng tên người khác, mẹ tôi không hề biết",
        "Tôi muốn đăng ký sim chính chủ cho mẹ tôi thì cần mang giấy tờ gì",
    ),
    # Issue 12 (modreports7): how citizens address the page or warn neighbours when they paste an
    # advert; each spare is a message whose words come near the rule's and must not match it.
    "report.asks_page_to_act": (
        "Gỡ bài này giúp em: nhà cái fb88 uy tín, nạp lần đầu tặng 100%, đăng ký tại fb88vn.com",
        "Cổng dịch vụ công thông báo hồ sơ của tôi đã được duyệt, cảm ơn cán bộ một cửa",
    ),
    "report.recurring_spam": (
        "Lại quảng cáo kìa: nhà cái uy tín, nạp 100k tặng 100k, đăng ký tại fb88vn.com",
        "Nhà mạng nhắn tin nói ai phát tán tin rác sẽ bị khóa thuê bao, tôi chưa hiểu lắm",
    ),
    "report.warns_neighbours": (
        "Mọi người ơi đừng tin: vay tiền online không cần thế chấp, giải ngân trong 5 phút, lãi suất"
        " 0%, lh 0912345678",
        "Mọi người dùng tín dụng ưu đãi của ngân hàng chính sách thì nhớ trả đúng hạn",
    ),
    "report.asks_neighbours": (
        "Ai bị dính chưa? Tài khoản VNeID của bạn sắp bị khóa, cập nhật ngay tại vneid-capnhat.com",
        "Ai bị nợ xấu không vay được ngân hàng thì phường có chương trình vay vốn hộ nghèo không",
    ),
    "report.saw_it_posted": (
        "Có người comment dưới bài của xã: nạp 50k nhận 150k chơi bắn cá đổi thưởng, link fb88vn.com",
        "Tôi muốn dán thông báo họp tổ lên bảng tin, người dân đi họp có cần mang gì không",
    ),
    "report.passes_on_plain": (
        "Toi chep lai nguyen van: Thu mua sim chinh chu, tai khoan ngan hang khong dung, tra gia cao,"
        " lh 0912345678",
        "Tin nay hay qua, cam on phuong da thong bao lich tiem cho tre",
    ),
    # Stop 43: how citizens call out an advert they pass on, and an advert's own voice when it
    # dresses as a warning. Written by the lead from general knowledge (never from a blind set);
    # each near miss is the other side's phrasing.
    "report.verdict_after_paste": (
        'Tin nhắn như này "BHXH hoàn tiền đóng bảo hiểm, đăng nhập tại bhxh-hoantien.site". Scam'
        " rồi, ai nhận được xóa luôn",
        "Nạp lần đầu tặng 100%, rút tiền 3 phút, ai nhận được mã thì dùng ngay",
    ),
    "report.where_posted": (
        "Có cmt ngay dưới bài thông báo tiêm chủng: nạp đầu tặng 100%, rút tiền 5 phút fv88vn.club",
        "Bình luận ngay để nhận giftcode, nạp đầu tặng 100% tại fv88vn.club",
    ),
    "report.scammer_method": (
        "Việc nhẹ lương cao, làm nhiệm vụ 20k/đơn: lúc đầu thôi, sau nó bắt nạp tiền rồi chiếm luôn",
        "Rút tiền nhanh, nạp rút 24/7, tiền về tài khoản trong 3 phút",
    ),
    "report.asks_admin_to_lock": (
        "Nick Hương Spa rải link giảm giá 70% triệt lông vào nhóm, zalo 0912 345 678. Ad khóa quyền"
        " đăng nick đó giúp",
        "Spa giảm giá 70% triệt lông, ad ơi cho em xin lịch trống tuần này",
    ),
    "report.beware_of_this_kind": (
        "Chị em ở nhà cẩn thận tin việc nhẹ lương cao, làm tại nhà 500k/ngày, chỉ cần điện thoại",
        "Chị em ở nhà rảnh rỗi nhận việc nhẹ lương cao, làm tại nhà 500k/ngày, chỉ cần điện thoại",
    ),
    "report.tail_reaction": (
        "Vay nhanh 10-50 triệu chỉ cần CCCD, không thẩm định, giải ngân 15 phút, liên hệ 0862 119"
        " 474 ai biết k",
        "Vay nhanh 10-50 triệu chỉ cần CCCD, không thẩm định, ai biết chuyện vay vốn thì liên hệ"
        " 0862 119 474",
    ),
    # Stop 45: the reaction first, then the advert pasted whole; the rule reads only the start.
    "report.head_reaction": (
        "Lại nữa à 🙄 VAY NHANH 30 TRIỆU CHỈ CẦN CCCD, không thẩm định, giải ngân 15 phút, zalo"
        " 0912 604 118",
        "Hôm nay lại nữa à, loa phường bật từ 5 giờ sáng, nhà có trẻ nhỏ không ngủ được",
    ),
    "report.reported_speech": (
        "Trong nhóm lớp có đứa rủ chơi tài xỉu, nó bảo nạp 200k tặng 200k tại taixiu68.club",
        "Nạp 200k tặng 200k tại taixiu68.club, rút tiền về ngân hàng trong 3 phút",
    ),
    "report.admin_removed": (
        "Bài rao đầu tư vàng lãi 5%/ngày, zalo 0866 241 590 đã được gỡ, ai đã chuyển tiền báo ngay"
        " công an xã",
        "Đầu tư vàng lãi 5%/ngày, rút gốc bất cứ lúc nào, đã được hơn 2.000 nhà đầu tư tin tưởng",
    ),
    "report.what_happened_after": (
        "Làm nhiệm vụ like video 15k/lượt, em nạp 2 triệu để nhận nhiệm vụ VIP xong bị trừ mất"
        " luôn",
        "Làm nhiệm vụ like video 15k/lượt, nạp 2 triệu nhận nhiệm vụ VIP, rút tiền ngay",
    ),
    "report.asks_family": (
        "con oi cai tin nay la gi no ghi quy khach duoc nhan 2 trieu ho tro an sinh bam vao"
        " hotro-ansinh.site",
        "Quý khách được nhận 2 triệu hỗ trợ an sinh, bấm vào hotro-ansinh.site để nhận ngay",
    ),
    "report.asks_if_page_runs_it": (
        "Có nick nhắn cho em xưng nhân viên page báo em trúng quà, gửi link nhận quà"
        " mttq-qua.online, page mình có chương trình đó không ạ",
        "Page mình mở chương trình tri ân, nhận quà tại mttq-qua.online, nhanh tay kẻo hết",
    ),
    "report.group_overrun": (
        "Ai làm admin nhóm rao vặt xã vậy, toàn bot đăng tài xỉu uy tín nạp rút 1-1, nhắc nhở giùm",
        "Tài xỉu uy tín nạp rút 1-1, admin nhóm hỗ trợ 24/7, vào nhóm nhận code",
    ),
    "report.heads_up": (
        "Phụ huynh chú ý: có tin nhắn mạo danh nhà trường bảo nhận quà tri ân, xác thực tài khoản"
        " VNeID tại vneid-quatang.top, đừng bấm",
        "Hỗ trợ học phí 2 triệu cho phụ huynh, đăng ký nhận tại hocphi-online.top",
    ),
    "report.names_account": (
        "Có page tên \"Hỗ Trợ Vay Vốn Phường\" cứ đăng cho vay không thế chấp, giải ngân trong ngày",
        "Cho vay không thế chấp, giải ngân trong ngày, page uy tín lâu năm, inbox ngay",
    ),
    "report.harm_done": (
        "App vay duyệt 5 phút không thẩm định, xóm tôi 3 nhà dính rồi, vay 2 triệu trả 3 triệu,"
        " ad cảnh báo chung cho bà con",
        "App vay duyệt 5 phút không thẩm định, vay 2 triệu nhận ngay, hỗ trợ cả nhà chưa có việc",
    ),
    "report.asks_removal_bare": (
        "Trên page có nick cmt nạp 100k tặng 100k game bài đổi thưởng kèm link nohu79.vip, xóa đi",
        "Game bài đổi thưởng nạp 100k tặng 100k, link nohu79.vip, xóa app cũ đi cài bản mới",
    ),
    "report.page_lets_it": (
        "Trang của phường mà để mấy nick tài xỉu nạp rút 1-1 leo lên cmt khắp nơi vậy à",
        "Tài xỉu nạp rút 1-1, để lại sđt nhận code tân thủ, nhà cái uy tín",
    ),
    "report.group_admin": (
        "Tôi là admin nhóm chợ xóm, có nick rao bán sim rác kích hoạt sẵn 50k, xóa rồi mà nó vào"
        " lại đăng tiếp",
        "Bán sim rác kích hoạt sẵn 50k, admin nhóm bảo lãnh, đăng ký giao tận nơi",
    ),
    "report.asks_page_offers_it": (
        "Có nick nhắn tuyển CTV nhập liệu tại nhà 500k/ngày, cọc 200k. Phường có tuyển người như"
        " vậy không ạ?",
        "Tuyển CTV nhập liệu tại nhà 500k/ngày, cọc 200k giữ chỗ, nhận việc ngay trong hôm nay",
    ),
    # Round 6 (after set 33 was measured; the lead's own wording of its kinds).
    "report.scoffs": (
        "Nhóm zalo khu phố mà cũng không tha: nổ hũ đổi thưởng, nạp 50k tặng 50k, link nohu88.vip",
        "Nổ hũ đổi thưởng uy tín, nạp 50k tặng 50k, ai chơi cũng thắng, link nohu88.vip",
    ),
    "report.scheme_collapsed": (
        "Sàn vàng GTX hứa lãi 5%/tuần, cả xóm góp vốn, giờ sàn sập, làm đơn gửi đâu ạ",
        "Sàn vàng GTX lãi 5%/tuần, rút gốc bất kỳ lúc nào, sale sập sàn cho 100 người đầu tiên",
    ),
    # Round 7 (after set 34 was measured; the lead's own wording of its kinds).
    "report.plagued": (
        "SOI CẦU LÔ ĐỀ CHUẨN 99%, vào nhóm kín 300k, cái tin này ngày nào cũng nhắn vào zalo tôi,"
        " làm sao chặn",
        "Soi cầu lô đề chuẩn 99%, vào nhóm kín 300k, ngày nào cũng có cầu đẹp cho anh em",
    ),
    "promo.testimonial": (
        "Mách nhỏ chị em: app vay VayDe24 giải ngân 15 phút, nhà mình dùng rồi, link trong bình"
        " luận nha",
        "Cô Lan hỏi xin cách dùng app VNeID, nhà mình làm rồi nhưng chưa hiểu phần ví giấy tờ",
    ),
    # Round 8 (after set 35 was measured; the lead's own wording of its kinds).
    "report.verdict_first": (
        "fake 100%: Bộ Y tế hoàn tiền BHYT 2025, nhận tiền về ví tại hoantien-bhyt.info",
        "Bộ Y tế hoàn tiền BHYT 2025, nhận tiền về ví tại hoantien-bhyt.info, không phải lừa đảo",
    ),
    "report.knows_the_script": (
        "Nhóm zalo mời làm nhiệm vụ like video nhận 50k/lượt, làm 2 lần đầu được tiền rồi bắt nạp"
        " 2 triệu mới rút được, mn đừng dính",
        "Làm nhiệm vụ like video nhận 50k/lượt, rút tiền ngay sau mỗi lượt, đúng định mức công ty",
    ),
    # Round 9 (after set 36 was measured; the lead's own wording of its kinds).
    "report.asks_help": (
        "Nhờ Mặt trận kiểm tra giúp: nhà cái uy tín nạp đầu tặng 100%, ib ngay, đang tràn vào nhóm"
        " khu phố",
        "Nhà cái uy tín nạp đầu tặng 100%, nhờ vậy anh em thắng đều mỗi ngày, ib ngay",
    ),
    "promo.expert_recommends": (
        "Bản tin sức khỏe: chuyên gia khuyến cáo người già nên dùng Tảo Xanh Nhật để hạ mỡ máu,"
        " đặt mua ngay giảm 40%",
        "Bác sĩ trạm y tế khuyên người già nên tiêm phòng cúm trước mùa đông, tiêm miễn phí",
    ),
    "promo.only_genuine_here": (
        "CẢNH BÁO: nhiều trang giả mạo nhà cái lừa đảo! Chỉ có link chính thức kubet-vn.top mới"
        " uy tín, nạp đầu tặng 100%",
        "Con tôi chỉ có mỗi cái xe đạp mới mua, hôm qua bị trộm ở trước cổng trường",
    ),
    "promo.seller_voice": (
        "cảnh báo lừa đảo vay tiền! bên em là cty tài chính có giấy phép, nợ xấu vẫn duyệt, ib em",
        "Bên em là tổ dân phố 5, xin phường cho biết lịch thu gom rác cồng kềnh",
    ),
    # Stop 44 (written by the lead from the kinds set 30 let through, not its words).
    "promo.names_own_channel": (
        "Cảnh báo sàn ảo lừa đảo! Anh chị chỉ nạp tại sàn chính thức VinaTradePro, lãi 2%/ngày",
        "Mọi người chỉ tải VNeID trên kho ứng dụng chính thức của Apple và Google thôi nhé",
    ),
    "promo.licensed_claim": (
        "Cảnh giác vay nóng! App VayNhanhViet được Ngân hàng Nhà nước cấp phép, giải ngân 15"
        " phút, zalo 0902 118 773",
        "Quán karaoke đầu ngõ được cấp phép đến 22h mà hát đến 1h sáng, phường xử lý giúp",
    ),
    "promo.asks_credentials": (
        "Cảnh báo lộ thông tin! Hãy kiểm tra thẻ của bạn tại quetthe-antoan.site, chỉ cần nhập"
        " số thẻ và mã OTP",
        "Ngân hàng dặn không bao giờ đưa mã OTP cho ai, kể cả người xưng nhân viên ngân hàng",
    ),
    "promo.recovery_pitch": (
        "Bị lừa đảo qua mạng? Đừng báo công an mất thời gian, văn phòng luật thu hồi 90% tiền,"
        " chỉ thu phí khi thành công, zalo 0933 551 207",
        "Tôi bị lừa 30 triệu, đã báo công an phường, nhờ Mặt trận hướng dẫn làm đơn",
    ),
    "scam.otp_trick": (
        "anh ơi em gửi nhầm mã OTP vào số anh, anh đọc giúp em 6 số vừa nhận với ạ",
        "Ngân hàng nhắn mã OTP khi tôi chuyển tiền học phí cho con, vậy có an toàn không",
    ),
    "scam.charity_private_account": (
        "Kêu gọi tấm lòng hảo tâm giúp cháu Minh 5 tuổi mổ tim, xin gửi về STK 0123 4567 89"
        " Agribank chủ TK Nguyễn Văn Tâm",
        "Xin hỏi Quỹ Vì người nghèo của phường nhận ủng hộ qua tài khoản nào của Ủy ban MTTQ",
    ),
    "ad.keyword_stuffing": (
        "máy lọc nước giá rẻ máy lọc nước tốt nhất máy lọc nước trả góp 0% liên hệ 0903 221 118",
        "Nước máy ở tổ 5 đục, nước máy có mùi, hỏi công ty cấp nước thì bảo chờ",
    ),
    "promo.runs_down_rivals": (
        "Mọi người đừng tin các nhà cái khác, chỉ đăng ký saobac-bet.net, hoàn 100% cược thua",
        "Phường này sửa đường nhanh hơn các phường khác, cảm ơn các anh chị cán bộ",
    ),
    # Citizens passing on a scam with a few words of their own (2026-12-05, helper "modround4",
    # written from general knowledge); each near miss is spam in a citizen's voice.
    "report.tells_to_ignore": (
        "Ai nhận được tin này thì đừng bấm nhé: [VCB] Tài khoản của quý khách sẽ bị tạm khóa, xác"
        " thực tại vcb-xacthuc.com",
        "Ai nhận được mã giảm giá thì dùng ngay kẻo hết hạn, nhập mã khi thanh toán tại shop",
    ),
    "report.calls_it_fake": (
        "Lại cái trò này. [MB Bank] Quý khách có khoản hoàn tiền, xác nhận tại mbbank-hoantien.net",
        "Trò chơi đổi thưởng uy tín, không phải của nhà cái lừa đảo, nạp 50k tặng 50k",
    ),
    "report.calls_it_fake_marked": (
        "Tin giả đó mọi người: Thông báo cắt sóng thuê bao chưa chuẩn hóa, truy cập"
        " viettel-chuanhoa.com",
        "Link giá rẻ nhất thị trường, sim số đẹp giá gốc, ib ngay",
    ),
    "report.asks_if_scam": (
        "cái này lừa đảo phải không ad. [EVN] Quý khách nợ tiền điện, sẽ bị cắt điện hôm nay, thanh"
        " toán tại evn-thanhtoan.vip",
        "Có phải bạn đang cần tiền gấp? Vay online 20 triệu không gặp mặt, duyệt 5 phút",
    ),
    "report.received_this": (
        "Nhà tôi vừa nhận: Bạn đã trúng thưởng xe SH, truy cập shopee-trian.com để nhận quà",
        "Ai nhận được tin này là người may mắn: bạn trúng thưởng xe SH, nhận quà tại"
        " trian-khachhang.vip",
    ),
    "report.strange_sender": (
        "Số lạ nhắn cho mẹ tôi: [BIDV] Tài khoản của quý khách bị khóa, mở khóa tại bidv-mokhoa.com",
        "Quý khách vui lòng không bấm vào link lạ, xác thực tài khoản tại vcb-xacthuc.com",
    ),
    "report.tells_family": (
        "Nhà ai có người già thì dặn bố mẹ đừng nghe máy: Cơ quan BHXH thông báo chi trả tiền hưu"
        " bổ sung, tải ứng dụng theo link bhxh-vn.com",
        "Vay không cần hỏi người thân, không thẩm định, giải ngân 10 phút, lh 0912345678",
    ),
    "report.trade_openly": (
        "Thu mua tài khoản ngân hàng, sim chính chủ giá cao, ib zalo. Mua bán ngang nhiên thế này à",
        "Thu mua điện thoại cũ giá cao khắp nơi, ship tận nhà, ib zalo",
    ),
    "report.after_the_fact": (
        "Tôi đã báo 5656 rồi: [BIDV] Tài khoản của quý khách bị khóa, mở khóa tại bidv-mokhoa.com",
        "Nạp thẻ cào nhận thưởng x2, game bài đổi thưởng uy tín, tôi chặn không nổi, ib ngay",
    ),
    "report.consumer_grievance": (
        "Shop quảng cáo giảm giá 50%, freeship, ib 0912345678. Tôi mua về hàng không đúng như quảng"
        " cáo, shop không chịu đổi",
        "Hàng đúng như quảng cáo, bao đổi trả 7 ngày, giảm giá 50%, ib shop ngay 0912345678",
    ),
}

#: More (rule id, catch, near miss) lines: the terms and patterns added to existing rules and the
#: other phrasings of the new ones (2026-12-04, helper "modtune"), written from general knowledge
#: of each family, never from a blind set. Each near miss is a citizen's complaint or report that
#: shares words with the spam.
MORE_EXAMPLES: list[tuple[str, str, str]] = [
    (
        "trade.bank_account",
        "Thu mua tk vcb, mb đã sinh trắc học, 1tr5/bộ",
        "Tài khoản ngân hàng của mẹ tôi bị khóa vì chưa sinh trắc học, phường hỗ trợ với",
    ),
    (
        "trade.bank_account",
        "Cần mua acc bank chính chủ đủ bộ, trả tiền ngay",
        "Cây ATM đầu chợ thu thẻ ATM của mẹ tôi, ngân hàng bảo chờ 5 ngày",
    ),
    (
        "trade.bank_account",
        "Mua bán tài khoản doanh nghiệp đã có lịch sử giao dịch",
        "Tôi mở tài khoản ngân hàng cho con để nhận học bổng, cần giấy tờ gì",
    ),
    (
        "trade.bank_account",
        "Cần thu mua TKNH giá cao, ib zalo",
        "Phí duy trì tài khoản ngân hàng tăng mà không báo trước",
    ),
    (
        "trade.sim",
        "b á n s i m r á c giá rẻ số lượng lớn",
        "Tổ 5 ơi, a e k nào rảnh thì ra dọn rác đầu ngõ nhé",
    ),
    (
        "trade.sim",
        "Bán sim ảo, số ảo nhận code đăng ký zalo giá rẻ",
        "Tôi mua sim ở đại lý mà sim chưa đăng ký chính chủ, giờ bị khóa một chiều",
    ),
    (
        "trade.sim",
        "Nhận đăng ký sim chính chủ hộ, chuẩn hóa thông tin sim hộ",
        "Mẹ tôi mất sim, muốn làm lại sim chính chủ thì ra đâu ạ",
    ),
    (
        "trade.identity",
        "Bán data khách hàng tiềm năng, data số điện thoại theo khu vực",
        "Ngày nào cũng bị gọi điện chào mời, không biết ai lộ số điện thoại của tôi",
    ),
    (
        "earn.crypto_pitch",
        "Đào Pi Network mỗi ngày, mua bán Pi giá cao",
        "Con tôi học lớp 5, cô giáo dạy số pi mà cháu chưa hiểu",
    ),
    (
        "earn.crypto_pitch",
        "Tín hiệu BTC hôm nay: LONG 65000, TP 68000, vào nhóm VIP",
        "Xe tải đi vào đường cấm, biển số 29C 65000, đề nghị xử lý",
    ),
    (
        "earn.commission",
        "Câu lạc bộ đầu tư, lợi nhuận 15-30% mỗi tháng",
        "Hợp tác xã chia lợi nhuận cho xã viên theo tháng mà nhà tôi chưa nhận được",
    ),
    (
        "earn.deposit_first",
        "Đánh giá sản phẩm nhận thưởng, cần nạp trước để kích hoạt",
        "Tôi nạp tiền điện qua app mà chưa thấy gạch nợ",
    ),
    (
        "earn.tasks",
        "Nhận thưởng sau mỗi nhiệm vụ, chốt đơn shopee tại nhà",
        "Chủ nhiệm hợp tác xã giao nhiệm vụ cho từng tổ",
    ),
    (
        "earn.overseas",
        "Tuyển lao động đi Đài Loan không cần tiếng, xuất cảnh sau 1 tháng",
        "Con tôi xuất cảnh đi Hàn Quốc tháng trước, cần xác nhận gì ở phường",
    ),
    (
        "loan.fast_loan",
        "Hỗ trợ tài chính cá nhân, vay qua CCCD, cầm cà vẹt xe",
        "Hộ nghèo được ngân hàng chính sách hỗ trợ vay vốn ưu đãi không",
    ),
    (
        "loan.fast_loan",
        "Vay ngay 20 triệu, trả góp 12 tháng",
        "Do vậy ngày mai phường họp tổ dân phố bàn việc đường ngập",
    ),
    (
        "loan.fast_money",
        "Duyệt hồ sơ 5 phút, giải ngân 100% online",
        "Hồ sơ trợ cấp của mẹ tôi nộp 3 tháng rồi mà chưa được duyệt",
    ),
    (
        "loan.no_collateral",
        "Vay không gặp mặt, không hỏi người thân, không phí ẩn",
        "Tôi đến phường 3 lần mà không gặp được cán bộ phụ trách",
    ),
    (
        "loan.interest_pitch",
        "Vay tiền mặt lãi suất chỉ 1%/tháng",
        "Vay vốn ngân hàng chính sách lãi suất bao nhiêu một tháng",
    ),
    (
        "gambling.games",
        "Chẵn lẻ momo uy tín, xổ số siêu tốc 1 phút, live casino",
        "Đường phân làn cho xe biển chẵn lẻ làm dân buôn bán khổ quá",
    ),
    (
        "gambling.games",
        "Nhận ghi đề, ghi lô qua điện thoại, trả thưởng ngay",
        "Đề nghị phường ghi nhận ý kiến của bà con về lô đất trống sau chợ",
    ),
    (
        "gambling.operator_talk",
        "Kèo Euro đêm nay, tỉ lệ 1 ăn 1.95, cược từ 50k",
        "Nhà bên mở loa trực tiếp bóng đá Euro đến 3h sáng, cả xóm không ngủ được",
    ),
    (
        "gambling.promo",
        "Đăng ký ngay nhận 88k, link ở bio",
        "Tiền rác mỗi tháng thu 88 nghìn một hộ, sao phường bên chỉ thu 40 nghìn",
    ),
    (
        "scam.account_threat",
        "Tài khoản định danh của bạn chưa được đồng bộ, sẽ bị tạm ngưng",
        "Tài khoản VNeID của tôi bị lỗi, đăng nhập không được, phường hỗ trợ với",
    ),
    (
        "scam.verify_request",
        "Vui lòng truy cập link dưới đây để xác nhận lại địa chỉ",
        "Tôi muốn đổi giấy phép lái xe sang thẻ mới thì làm ở đâu",
    ),
    (
        "scam.prize",
        "Số thuê bao của bạn trúng giải đặc biệt, thuê bao may mắn nhận quà",
        "Chương trình tri ân người có công năm nay phường có tặng quà không",
    ),
    (
        "ad.sale_talk",
        "Flash sale giảm 70%, mua 2 tặng 1, mã giảm giá ở bình luận",
        "Hàng rong bày tràn ra vỉa hè trước cổng chợ, xin phường nhắc nhở",
    ),
    (
        "ad.services",
        "Sửa điều hòa, máy giặt tại nhà, thợ đến ngay, bảo hành 6 tháng",
        "Tôi đăng ký lắp mạng cáp quang mà 2 tuần chưa ai đến lắp",
    ),
    (
        "signal.contact",
        "Vay tiền nhanh, lh zalo, đặt lịch qua zalo",
        "Phường đã lên lịch sửa đường ngõ 5 chưa ạ",
    ),
    (
        # "bạo hành" only with its marks: folded it is "bảo hành" (warranty), in every advert.
        "report.scam_naming",
        "Nhóm trẻ bạo hành các cháu giờ nhắn phụ huynh đóng học phí tại vietcombank-hocphi.com",
        "Máy lọc nước mua ở cửa hàng đầu ngõ còn bảo hành mà gọi 3 lần không ai đến sửa",
    ),
    (
        # "giả" only where it ends the phrase: "ứng dụng giả lập" is an emulator (and a word of
        # scams that make one install it).
        "report.calls_it_fake_marked",
        "Đây là link giả, đừng bấm: Tài khoản VNeID của bạn sắp bị khóa, xác thực tại"
        " vneid-xacthuc.com",
        "Con tôi cài ứng dụng giả lập trên máy tính của thư viện phường, có được không ạ",
    ),
    (
        "report.tells_to_ignore",
        "Vietcombank thông báo tài khoản của bạn bị khóa, đăng nhập vcb-mobile.cc để mở. Cẩn thận"
        " nhé, tôi không bấm",
        "Tôi mua máy lọc nước trả góp, không bấm ký hợp đồng điện tử mà vẫn bị trừ tiền hằng tháng",
    ),
    (
        "report.asks_if_scam",
        "Tôi lỡ bấm vào rồi có sao không: Tài khoản VNeID của bạn sắp bị khóa, xác thực tại"
        " vneid-xacthuc.com",
        "Mẹ tôi đi viện có được bảo hiểm chi trả tiền thuốc không",
    ),
    (
        "report.asks_if_scam",
        "Thu mua sim chính chủ, tài khoản ngân hàng không dùng nữa, trả 500k/bộ. Họ mua để làm gì"
        " vậy ạ",
        "Nhà tôi muốn mua máy lọc nước cho cả nhà dùng, loại nào tốt ạ",
    ),
]
#: Issue 12, bare insults (2026-12-05, helper "insult"): the terms and patterns added to the
#: abuse rules, written from general knowledge of Vietnamese abuse. Each near miss is an everyday
#: message that shares the insult's letters once folded ("do thần kinh": because of the nerves;
#: "mô tô"; "hạt óc chó": walnuts; "cả lò nhà tôi"; "tiền thuê"; "cơ quan thẩm quyền").
MORE_EXAMPLES += [
    # Stop 47: reporting to someone named, and the plain "xin báo" a citizen opens with.
    ("report.reporting", "Phản ánh với ad: chợ đêm có người bán sim đã kích hoạt sẵn",
     "Trang này phản ánh đúng tâm tư của bà con"),
    ("report.reporting", "xin bao: tren cau Ba Bong co nhom phat to roi vay tien",
     "Tôi muốn xin bảo hiểm y tế cho mẹ thì làm ở đâu"),
    # Stop 48: telling the admins, a "Báo cáo:" lead-in, "ai gặp thì né", the heads-up words
    # that adverts posing as a school's notice also use, and buying up unused SIMs and accounts.
    ("report.reporting", "Thông báo với ban quản trị: có nick cứ rao bán sim rác, sim kích hoạt sẵn trong nhóm",
     "Thông báo cho khách hàng: cửa hàng nghỉ bán từ mùng 1 đến mùng 5 Tết"),
    ("report.reporting", "Báo cáo: chợ đầu mối có người phát tờ rơi vay nóng",
     "Tôi nộp báo cáo thu chi của tổ dân phố ở đâu ạ"),
    ("report.tells_to_ignore", "Có nick mời chơi tài xỉu online nạp 50k nhận 100k, ai gặp thì né ra nha",
     "Ai gặp khó khăn về nhà ở thì liên hệ tổ trưởng nhé"),
    ("report.heads_up", "Phụ huynh chú ý: tin nhắn bảo xác thực tài khoản VNeID nhận học bổng tại vneid-hocbong.top"
     " là lừa đảo",
     "Phụ huynh đã đóng đủ tiền học cho con chưa ạ"),
    ("trade.unused_accounts", "Gom sim cũ không dùng nữa, trả 40k/cái",
     "Sim cũ của mẹ tôi bị khóa, ra đâu làm lại được"),
    ("trade.buyback", "Thu thẻ ATM, có người tới tận nhà lấy, trả tiền mặt",
     "Có người tới nhà tôi hỏi đường ra chợ"),
    # Stop 48, second round (sets 54-56 read): "truyền tay", "đề nghị … đính chính".
    ("report.warns_neighbours", "Cả xóm đang truyền tay link tài xỉu nạp 50k tặng 100k",
     "Hai bà cháu truyền tay nhau cái bánh chưng"),
    ("report.request_action", "Nick lạ rao tài xỉu uy tín nạp rút 1-1 trong nhóm, đề nghị"
     " phường đính chính", "Đính chính: lịch họp tổ dân phố dời sang thứ Bảy"),
    ("trade.bank_account", "Nhận làm tài khoản ngân hàng cho người nước ngoài, đủ sao kê",
     "Tôi muốn làm tài khoản ngân hàng để nhận lương hưu thì đi đâu"),
    # Stop 48, third round (sets 57-60 read): a question whether a page is fake, the admin
    # asked to act by "ad", "đừng ai cho OTP", "chụp màn hình rồi", a "warning" that ends in
    # the writer's own recommendation of where to play.
    ("report.is_it_real", "Trang đăng tài xỉu nạp rút 1-1 này giả đúng không ạ",
     "Đồ giả đúng là không đáng tiền"),
    ("report.ask_admin", "Nick lạ rao game bài đổi thưởng nạp 50k trong nhóm, ad kiểm tra kick ra",
     "Ad kiểm tra giúp lịch tiêm chủng tháng này"),
    ("report.warns_neighbours", "Tin nhắn bảo nhận hỗ trợ 2 triệu, xác thực tài khoản tại"
     " hotro-vneid.top, đừng ai cho OTP nhé", "Đừng lo, cán bộ sẽ gọi lại cho bác"),
    ("report.after_the_fact", "Nick lạ mời chơi tài xỉu online nạp 100k tặng 100k, tui chụp màn"
     " hình rồi", "Chụp màn hình điện thoại thế nào ạ"),
    ("promo.only_genuine_here", "Cảnh báo web nổ hũ lừa đảo, anh em nên chơi ở cổng uy tín Hũ"
     " Vàng 68, nạp rút 1-1", "Trẻ con nên chơi ở sân của nhà văn hóa cho an toàn"),
    ("abuse.insult", "Cái page này toàn lũ óc chó",
     "Mẹ tôi mua sữa hạt óc chó ở chợ về cho cả nhà uống"),
    ("abuse.insult", "tui bay khung het roi",
     "Mấy khung cửa sắt ở nhà văn hóa bị gỉ, đề nghị sơn lại"),
    ("abuse.insult", "Đúng là đồ thần kinh",
     "Mẹ tôi mất ngủ do thần kinh yếu, khám ở đâu được bảo hiểm chi trả"),
    ("abuse.insult", "Page toàn thứ bại não",
     "Con tôi bị bại não bẩm sinh, xin hỏi thủ tục nhận trợ cấp"),
    ("abuse.insult", "cả lò nhà chúng mày", "Tết này cả lò nhà tôi về quê ăn Tết"),
    ("abuse.insult", "Đồ láo, ăn nói với ai thế",
     "Bố tôi bị tai nạn do lao động, công ty không bồi thường"),
    ("abuse.insult", "Mồ tổ cha mày", "Xe mô tô phóng nhanh trong ngõ, đề nghị nhắc nhở"),
    ("abuse.insult", "Ngu lâu khó đào tạo", "be nha toi ngu lau qua co phai di kham khong"),
    ("abuse.insult", "Câm họng lại, cút đi", "Cháu bị câm bẩm sinh, cho đi học ở trường nào"),
    ("abuse.insult", "Bọn hèn, chỉ giỏi nói sau lưng",
     "Tôi lỡ hẹn với cán bộ phường, mai đến lại được không"),
    ("abuse.insult", "Cha mi, đồ ba trợn", "Cha mẹ tôi ăn mì tôm cả tuần vì mất mùa"),
    ("abuse.obscene_teencode", "thằng admin mặt l",
     "Bé nhà tôi mặt lấm lem vì chơi ở bãi cát công trình"),
    ("abuse.address", "Cha mi, bọn bay ăn hại thiệt",
     "Bọn trẻ thả diều bay qua đường dây điện, nguy hiểm quá"),
    ("abuse.address", "Cán bộ gì mà ngu như bò",
     "Cán bộ phường đã xuống kiểm tra đường ngõ 5, cảm ơn các anh"),
    ("abuse.mild", "Đồ khùng, biến hết đi", "Khung giờ tiêm chủng ở trạm y tế là mấy giờ"),
    ("abuse.contempt", "con bot ngáo à", "Bốt điện đầu ngõ kêu ù ù cả đêm"),
    ("abuse.contempt", "Bọn cán bộ ăn hại thật",
     "Lũ về làm ngập ruộng, máy bơm của hợp tác xã vô dụng"),
    ("abuse.contempt", "nao cua may de lam canh a", "Cây nào để trang trí Tết thì đẹp"),
    ("abuse.contempt", "ad bi thieu nang a",
     "Trạm bơm bị thiếu năng lượng điện vào mùa khô"),
    ("abuse.contempt", "Mấy người đó chẳng làm được cái gì ra hồn",
     "Cô giáo khen cháu vẽ tranh ra hồn rồi"),
    ("abuse.contempt", "Lũ bù nhìn ngồi chơi xơi nước",
     "Mời các cụ ngồi chơi uống nước ở nhà văn hóa"),
    ("abuse.contempt", "Giỏi quá, giỏi nhất khoản ăn hại",
     "Con tôi học giỏi nhất lớp, có được học bổng của phường không"),
    ("abuse.contempt", "Lũ ăn tiền thuế mà ngồi chơi", "Chủ trọ ăn tiền thuê mà không sửa mái dột"),
    ("abuse.contempt", "Bọn quan tham", "Cơ quan thẩm quyền trả lời chậm quá"),
    ("abuse.contempt", "Bot gì mà ngu thế", "Bot gì mà ngủ sớm thế, hỏi mãi không trả lời"),
    ("abuse.contempt", "Ad bị điên à",
     "Nhà tôi bị điện giật chết con trâu, có được hỗ trợ không"),
]
#: Complaints and reports that use the weak words of the new rules ("thanh lý", "lắp mạng",
#: "hút bể phốt", "chẵn lẻ", "bưu phẩm", "đang cấp cứu", "góp vốn đầu tư", "sim chính chủ"…):
#: those words may match, by design too weak to stop a message alone, but the message is never
#: refused.
COMPLAINTS_WITH_SPAM_WORDS: list[str] = [
    "Cửa hàng đầu ngõ thanh lý hàng bày tràn ra vỉa hè, người đi bộ phải xuống lòng đường",
    "Tôi đăng ký lắp mạng cáp quang mà 2 tuần chưa ai đến lắp, tổng đài không nghe máy",
    "Xe hút bể phốt đổ trộm chất thải ra mương đầu làng, biển số xe tôi đã chụp, gọi 0912 345 678",
    "Ở đầu ngõ có nhóm thanh niên tụ tập chơi chẵn lẻ ăn tiền đến khuya, đề nghị phường xử lý",
    "Bưu phẩm của tôi gửi từ tháng trước mà bưu cục báo thất lạc do sai địa chỉ, phải làm sao",
    "Mẹ tôi đang cấp cứu mà xe cứu thương không vào được ngõ vì ô tô đỗ chắn, gấp lắm",
    "Công ty đa cấp rủ người già góp vốn đầu tư, nhiều người mất tiền, đề nghị kiểm tra",
    "Tôi có sim chính chủ không dùng nữa, muốn hủy thì ra cửa hàng nào",
    "Tài khoản ngân hàng không dùng đến lâu rồi thì có bị trừ phí không, muốn đóng thì làm sao",
    "Nhà ông Tư đầu xóm nhận ghi đề công khai, thanh niên ra vào suốt, đề nghị công an xử lý",
    "Có người trong xóm đi thu mua tài khoản ngân hàng đã sinh trắc học của người già, "
    "đề nghị công an xử lý",
    "Tôi nhận tin nhắn bảo tài khoản VNeID chưa đồng bộ, bắt bấm link, có phải lừa đảo không",
    "Bố tôi cài ứng dụng lạ theo hướng dẫn qua điện thoại, bị mất sạch tiền, đề nghị giúp đỡ",
    "Facebook đầy quảng cáo staking usdt lãi 1%/ngày, có phải lừa đảo không ạ",
    "Con tôi xem video tiktok cả ngày, phường có khóa học kỹ năng nào cho trẻ không",
    "Điện lực báo nhà tôi sắp hết hạn hợp đồng điện, sẽ bị cắt điện, mà tôi đã ký lại rồi",
    "Trên nhóm zalo tổ dân phố có người đăng quảng cáo vay tiền qua cccd, admin xóa giúp",
    "Xe thu mua phế liệu rao loa inh ỏi từ 6h sáng, đề nghị phường nhắc nhở",
    "Tiệm spa trong ngõ mở nhạc to cả ngày, khách đỗ xe chắn lối đi, giá rẻ mà ồn quá",
    "Cháu muốn hỏi còn slot đăng ký lớp học bơi miễn phí cho trẻ em không ạ",
]
#: Near misses the rule still matches today (a fault of the rule, not of the example): rule id ->
#: why. Their spare cases are strict xfail; remove the line when the rule is fixed.
SPARE_STILL_HIT: dict[str, str] = {
    "earn.tasks": (
        "the term 'làm nhiệm vụ' is everyday speech; the rule cannot tell a task scam from "
        "police on duty, only its 0.6 weight keeps the verdict clean (see earn_money.yml and "
        "test_police_on_duty_is_not_a_task_scam)"
    ),
}
# Fixed since this file was written (2026-12-04): 'vai lon' / 'vài lon bia', bare 'bọn' /
# 'bọn trẻ', 'ngu' / 'ngủ' (strict terms are now always matched with their marks), 'tăng 2 lần'
# as a gambling bonus, 'là lựa chọn' as a citizen's "là lừa".


@pytest.fixture(scope="module")
def rules() -> ModerationRules:
    return load_rules(RULES_DIR)


def _matching_rules(text: str, rules: ModerationRules) -> set[str]:
    """Every rule whose terms, patterns or link criteria match ``text``.

    :func:`bot.moderation.engine.match_rules` (and so ``Verdict.rule_ids``) skips the supporting
    rules (``boost_only``, ``signal``, ``report``) when no deciding rule of the right kind
    matched, because they cannot change the verdict then. A near miss must not match the rule
    even so, so this runs the engine's own matcher over every rule.
    """
    norm = normalise(text)
    hits = _hits(list(rules.rules), norm, rules, find_urls(norm, rules), quoted_spans(norm.text))
    return {hit.rule.id for hit in hits}


def _spare_cases() -> list[object]:
    cases: list[object] = []
    for rule_id in EXAMPLES:
        reason = SPARE_STILL_HIT.get(rule_id)
        if reason is None:
            cases.append(rule_id)
        else:
            cases.append(pytest.param(rule_id, marks=pytest.mark.xfail(strict=True, reason=reason)))
    return cases


def test_every_rule_has_an_example(rules: ModerationRules) -> None:
    loaded = {rule.id for rule in rules.rules}
    missing = sorted(loaded - set(EXAMPLES))
    stale = sorted(set(EXAMPLES) - loaded)
    assert not missing, f"rules without a (catch, spare) example in EXAMPLES: {missing}"
    assert not stale, f"EXAMPLES lines for rules that no longer exist: {stale}"
    assert set(SPARE_STILL_HIT) <= set(EXAMPLES)


@pytest.mark.parametrize("rule_id", list(EXAMPLES))
def test_each_rule_catches_its_phrase(rule_id: str, rules: ModerationRules) -> None:
    catch, _ = EXAMPLES[rule_id]
    verdict = moderate(catch, rules)
    assert rule_id in verdict.rule_ids, (
        f"{rule_id} does not match {catch!r}; the engine reported {verdict.rule_ids}"
    )
    # The exhaustive matcher the near-miss test relies on finds what the engine finds.
    assert set(verdict.rule_ids) <= _matching_rules(catch, rules)


@pytest.mark.parametrize("rule_id", _spare_cases())
def test_each_rule_spares_its_near_miss(rule_id: str, rules: ModerationRules) -> None:
    _, spare = EXAMPLES[rule_id]
    matched = _matching_rules(spare, rules)
    assert rule_id not in matched, f"{rule_id} matches the innocent {spare!r}"


@pytest.mark.parametrize(("rule_id", "catch", "spare"), MORE_EXAMPLES)
def test_more_phrasings_are_caught_and_spared(
    rule_id: str, catch: str, spare: str, rules: ModerationRules
) -> None:
    assert rule_id in moderate(catch, rules).rule_ids, f"{rule_id} does not match {catch!r}"
    assert rule_id not in _matching_rules(spare, rules), f"{rule_id} matches {spare!r}"
    # The near miss, a citizen's message, is never refused.
    gate = apply_policy(moderate(spare, rules), spare)
    assert not gate.flagged and not gate.insult_only, spare


@pytest.mark.parametrize("text", COMPLAINTS_WITH_SPAM_WORDS)
def test_complaints_with_the_new_rules_words_are_taken(text: str, rules: ModerationRules) -> None:
    gate = apply_policy(moderate(text, rules), text)
    assert not gate.flagged and not gate.insult_only, gate.verdict.reason

#: Stop 49 (fresh sets 63-66 read): words citizens and advertisers use, told apart.
MORE_EXAMPLES += [
    ("trade.buyback", "Ai có thẻ ATM không dùng đến thì để lại cho em, trả 700k/thẻ, có người tới lấy",
     "Mẹ tôi mua cho cháu hai bộ quần áo ấm hết 300k một bộ, chợ Tết đắt quá"),
    ("gambling.operator_talk", "Vào nhóm tip kèo của chuyên gia, tối nay kèo C1 ăn chắc",
     "Trẻ con trong xóm tụ tập xem bóng đá tới khuya, ồn quá không ngủ được"),
    ("scam.verify_request", "Điền thông tin CCCD và số tài khoản tại form bên dưới để nhận quà Tết",
     "Phường hướng dẫn bà con điền thông tin CCCD vào tờ khai khi làm thủ tục"),
    ("report.describes_ad", "Thấy quảng cáo đầu tư tiền ảo lãi 20% tháng, ông tôi định bỏ tiền vào",
     "Con tôi xem quảng cáo trên YouTube cả ngày, nhà trường có tuyên truyền gì không"),
    ("report.question", "Phường có biện pháp gì không, tụi nhỏ chơi tài xỉu cả đêm",
     "Phường có thông báo lịch tiêm phòng cho trẻ rồi, cảm ơn ạ"),
    ("report.question", "Có cách nào chặn mấy tin nhắn vay tiền này không ad",
     "Có cách nào để nhà tôi được vào danh sách hộ cận nghèo"),
    ("report.worry", "Ông tôi định nạp tiền vào sàn coin đó, tui lo quá",
     "Mẹ tôi lo cơm nước cho cả nhà, tôi đi làm ca đêm"),
    ("report.third_party", "Mấy đứa nhỏ trong xóm rủ nhau chơi nổ hũ trên điện thoại",
     "Tôi cần tuyển thêm thợ phụ cho xưởng mộc, phường giới thiệu giúp"),
    ("report.reporting", "Đề phòng tin nhắn giả danh ngân hàng bảo cập nhật thông tin tại link lạ nha bà con",
     "Em muốn đi phỏng vấn xin việc ở khu công nghiệp, phường có giới thiệu không"),
    ("report.warns_neighbours", "Dặn bà con đừng bấm link nhận quà tri ân VNeID gửi qua Zalo",
     "Cán bộ phường hướng dẫn bà con làm căn cước rất nhiệt tình"),
    ("offer.service", "Đang tuyển CTV online, lương ngày, ib em",
     "Trường với địa phương có phối hợp tuyên truyền gì không"),
    ("offer.service", "Tuyển nhân viên bán hàng online, không cần kinh nghiệm",
     "Tuyến đường liên xã ngập sâu cả tuần nay chưa ai xử lý"),
]

#: Stop 49, round 2 (fresh sets 67-70 read).
MORE_EXAMPLES += [
    ("report.scam_naming", "Bọn cho vay nặng lãi cắt cổ ngay đầu hẻm, lãi 20% tuần",
     "Nhà tôi mới mua cái máy cắt cỏ, mượn thì qua lấy nha bà con"),
    ("report.reporting", "canh bao phu huynh: co tk gui link nhan hoc bong, bam vao bat nhap OTP",
     "Phụ huynh lớp 3A nhớ nộp giấy khám sức khỏe cho cô chủ nhiệm"),
    ("report.third_party", "Trong nhóm zalo phụ huynh có tk lạ gửi link nhận học bổng bắt nhập OTP",
     "Tài khoản Zalo của tôi bị lỗi không nhận được tin nhắn của tổ dân phố"),
    ("report.narrates_others", "Số 0909xxx123 gọi nói là cán bộ phường, bắt đọc mã OTP để nhận tiền hỗ trợ",
     "Tôi gọi lên phường thì được cán bộ nói là tuần sau mới có kết quả"),
    ("report.tells_to_ignore", "Số lạ bắt đọc mã OTP để nhận tiền hỗ trợ bão lũ. Không đọc nha bà con",
     "Không đọc được chữ trên tờ thông báo dán ở nhà văn hóa, mờ quá"),
    ("report.victim", "Em gái tôi bị dụ sang làm bên casino, giờ tụi nó đòi 60 triệu tiền chuộc",
     "Xe tôi bị tạm giữ vì quên bằng lái, nộp phạt ở đâu ạ"),
    ("report.asks_help", "Con tui bị dụ qua làm bên casino Campuchia theo kiểu việc nhẹ lương cao, xin cứu con tui với",
     "Hội cựu chiến binh phường tổ chức thăm hỏi các gia đình chính sách"),
    ("report.question", "Đứa cháu bị rủ đi làm online bên kia lương 20tr giờ bị giữ, nhà không biết làm sao",
     "Tôi biết làm hồ sơ rồi, cảm ơn cán bộ đã hướng dẫn"),
    ("report.addressing", "Kính gửi Mặt trận phường: có nhóm rao tài xỉu nạp rút 1-1 trong khu trọ",
     "Kính gửi bà con khu phố: lịch thu gom rác thay đổi từ thứ hai tuần sau"),
    ("trade.identity", "Nhận mở hộ tài khoản ngân hàng, chỉ cần chụp CCCD, trả bạn 400K mỗi tài khoản",
     "Cháu tôi mở hộ tài khoản ngân hàng cho bà nội để nhận lương hưu, có cần bà ra quầy không"),
    ("promo.seller_voice", "Sàn forex của anh Tùng lãi 30% tháng, mọi người muốn tham gia thì cmt Quan tâm nhé",
     "Ai muốn góp ý cho buổi họp tổ dân phố thì gửi tổ trưởng nhé"),
    ("promo.testimonial", "Đầu tư vàng số lãi cố định 2%/ngày, tôi là giáo viên, nhờ kênh này mà đã xây được nhà",
     "Nhờ phường hỗ trợ mà nhà tôi đã sửa được mái, cảm ơn Mặt trận"),
]

#: Stop 49, round 3 (fresh sets 71-78 read).
MORE_EXAMPLES += [
    ("report.victim", "Nhà tôi bấm link nhận quà tri ân VNeID rồi mất tiền, 20 triệu",
     "Tôi muốn hỏi thủ tục tách thửa đất nền mặt tiền đường liên xã của gia đình"),
    ("promo.seller_voice", "Nổ hũ đổi thưởng uy tín, bà con bấm vào đây để nhận ngay 88k: nohu88.vip",
     "Tôi bấm vào đây để tra cứu hồ sơ mà trang của phường báo lỗi, nhờ cán bộ xem giúp"),
    ("promo.seller_voice", "Kèo tài xỉu châu Á chuẩn lắm bà con, tìm trên Tele: @keochuan_mt",
     "Tôi tìm trên mạng mãi không thấy số điện thoại của tổ dân phố"),
    ("promo.testimonial", "Anh Tư nhờ theo kèo của nhóm này mà trả hết nợ, kèo tài xỉu chuẩn lắm",
     "Nhờ theo dõi sát của tổ dân phố mà khu mình hết trộm chó"),
    ("trade.identity", "Đi mở giùm em tài khoản ngân hàng, mỗi cái em trả 600k, kiếm thêm dịp Tết",
     "Con tôi đi mở giùm bà nội tài khoản ngân hàng để nhận lương hưu"),
    ("trade.identity", "Mở tài khoản ngân hàng hộ, xong đưa thẻ với mật khẩu cho em, trả 700k",
     "Tôi làm mất thẻ ATM, ra ngân hàng cấp lại thẻ với mật khẩu mới mất bao lâu"),
    ("trade.unused_accounts", "Ai có tài khoản ngân hàng không xài thì bán giùm nha, bên mình mua 800k một cái",
     "Tài khoản VNeID lâu rồi tôi không xài được, quên mật khẩu thì làm sao"),
    ("report.saw_it_posted", "Ở chợ xuất hiện tờ rơi thu mua tài khoản ngân hàng chính chủ giá cao, trả 1 triệu/tk",
     "Ở chợ xuất hiện nhiều ổ gà sau mưa, xe máy đi rất nguy hiểm"),
    ("report.warns_neighbours", "Tờ rơi thu mua tài khoản ngân hàng chính chủ giá cao, các em sinh viên đừng bán nhé",
     "Nhà tôi đừng bán mảnh đất này, ông bà dặn vậy, nhưng giờ phường bảo giải tỏa"),
]


def test_police_on_duty_is_not_a_task_scam() -> None:
    """The everyday sense of the one rule above that still matches its near miss."""
    from bot.moderation import moderate

    text = "Công an phường đang làm nhiệm vụ ở đầu ngõ mà xe vẫn đỗ tràn lan, đề nghị xử lý"
    assert not moderate(text).flagged


#: Stop 48 (sets 54-56 read): an advert's own words that a citizen signal used to match, so the
#: signal vetoed the stop. Each pair: the signal a citizen's words still match, and the advert
#: it must not match.
ADVERT_WORDS_NOT_SIGNALS = [
    ("report.encountered", "Em bị thêm vào nhóm tài xỉu uy tín nạp rút 1-1 mà không hỏi",
     "Tuyển CTV làm nhiệm vụ online, nhắn tin để được thêm vào nhóm nhận việc, lương ngày"),
    ("report.question", "Có nhóm rao tài xỉu nạp rút 1-1, giờ phải làm gì",
     "Cho thuê tài khoản ngân hàng trả 500k/tuần, không phải làm gì cả, liên hệ zalo"),
    ("report.victim", "Mẹ tôi bấm link nhận quà tri ân rồi mất Facebook luôn",
     "Tăng like, mắt Facebook giá rẻ, 1000 follow chỉ 39k, inbox page"),
    ("report.third_party", "Có người đến tận nhà mời mẹ tôi vay góp ngày",
     "Thu mua thẻ ATM giá cao 2tr/bộ, có người đến tận nhà nhận, liên hệ 0386 115 207"),
    # Stop 49: pulled into a group, not the recruiter's "em kéo vào nhóm"; "đề phòng", not "để
    # phỏng vấn"; "dặn bà con", not "hướng dẫn bà con".
    ("report.encountered", "Em bị kéo vào nhóm tài xỉu mà không ai hỏi ý kiến",
     "Bạn nào muốn làm cùng thì để lại số Zalo em kéo vào nhóm, rút tiền mỗi ngày"),
    ("report.reporting", "Đề phòng tin nhắn giả danh ngân hàng bảo cập nhật thông tin tại link lạ",
     "🔥 Tuyển gấp nhân viên chăm sóc khách hàng làm việc tại Campuchia, lương 1.200 USD, nhắn tin"
     " để phỏng vấn online"),
    ("report.warns_neighbours", "Dặn bà con đừng bấm link lạ gửi qua Zalo",
     "Hội thảo hướng dẫn bà con mở ví điện tử, mua token nông sản, lợi nhuận 8%/tháng, đăng ký"
     " trước để nhận quà"),
    # Stop 49, round 3: "có người dẫn đi mở tận nơi" is the buyer's service, not someone else's
    # deed; "Thông báo của Ban điều hành:" opens fake notices too.
    ("report.third_party", "Có người dán tờ rơi vay tiền đầy cột điện đầu hẻm",
     "Cần gấp 30 tài khoản ngân hàng, trả 1 triệu/tài khoản, có người dẫn đi mở tận nơi, tiền"
     " trao liền"),
]


@pytest.mark.parametrize(("rule_id", "citizen", "advert"), ADVERT_WORDS_NOT_SIGNALS)
def test_an_adverts_own_words_are_no_citizen_signal(rule_id: str, citizen: str, advert: str,
                                                    rules: ModerationRules) -> None:
    assert rule_id in _matching_rules(citizen, rules)
    assert rule_id not in _matching_rules(advert, rules)
    assert apply_policy(moderate(advert, rules), advert).flagged, advert
