"""A fixed list of realistic citizen messages for the benchmarks.

Written for the benchmarks, not copied from the training data: greetings, questions about the
Front's programmes, contact questions, feedback, petitions, status checks, requests for a person,
privacy requests, form answers and out-of-scope chatter, with and without diacritics, teencode
and the odd typo. The intent beside each message is what a person would label it; the benchmark
uses it only as a sanity check that a model is not broken (``./mttq evaluate`` measures accuracy
on the held-out split). Keep the list stable: changing it changes every latency figure.
"""

from __future__ import annotations

#: (text, expected intent)
MESSAGES: list[tuple[str, str]] = [
    # small talk
    ("Xin chào ạ", "greet"),
    ("chao ad", "greet"),
    ("chào Mặt trận phường, cho em hỏi chút", "greet"),
    ("hi shop", "greet"),
    ("cảm ơn anh chị nhiều ạ", "thank"),
    ("thanks ad nhe", "thank"),
    ("tạm biệt nhé", "goodbye"),
    ("bye bye", "goodbye"),
    ("đúng rồi", "affirm"),
    ("uh dung vay", "affirm"),
    ("không phải", "deny"),
    ("ko can dau", "deny"),
    ("bạn là người thật hay máy vậy?", "bot_challenge"),
    ("minh dang noi chuyen voi robot a", "bot_challenge"),
    # programmes
    ("Quỹ vì người nghèo hỗ trợ những đối tượng nào ạ?", "ask_programme"),
    ("quy vi nguoi ngheo ung ho o dau vay ad", "ask_programme"),
    ("Cho tôi xin số tài khoản để ủng hộ quỹ vì người nghèo", "ask_programme"),
    ("điều kiện để được xét nhà đại đoàn kết là gì", "ask_programme"),
    ("nha dai doan ket ho tro bao nhieu tien 1 can", "ask_programme"),
    ("Ngày hội đại đoàn kết năm nay tổ chức khi nào?", "ask_programme"),
    ("cuộc vận động người Việt Nam ưu tiên dùng hàng Việt Nam là gì", "ask_programme"),
    ("ban thanh tra nhân dân làm nhiệm vụ gì ạ", "ask_programme"),
    ("giam sat dau tu cong dong la gi vay", "ask_programme"),
    (
        "Mặt trận có hòa giải ở cơ sở không, tôi muốn hòa giải tranh chấp đất với hàng xóm",
        "ask_programme",
    ),
    ("vùng em bị lũ, xin hỏi cứu trợ thì đăng ký thế nào", "ask_programme"),
    # contact
    ("Địa chỉ Ủy ban MTTQ phường ở đâu ạ?", "ask_contact"),
    ("so dien thoai mat tran xa minh la bao nhieu", "ask_contact"),
    ("lịch tiếp công dân của Mặt trận phường tuần này thế nào", "ask_contact"),
    ("may gio mat tran lam viec vay a", "ask_contact"),
    # feedback
    ("Tôi muốn góp ý về cách tổ chức ngày hội đại đoàn kết năm nay", "give_feedback"),
    ("gop y la fanpage tra loi cham qua", "give_feedback"),
    ("em có ý kiến đóng góp cho hoạt động của Mặt trận phường", "give_feedback"),
    # petitions
    ("Đường trước nhà tôi ngập nước cả tuần nay không ai xử lý", "submit_petition"),
    ("duong xom em o ga lon lam, xe may nga suot, de nghi sua giup", "submit_petition"),
    ("Tôi muốn phản ánh việc đổ rác trộm ở đầu ngõ 12", "submit_petition"),
    ("kiến nghị lắp đèn đường ở khu phố 3, tối quá", "submit_petition"),
    ("quan karaoke hat den 2h sang, phan anh giup em voi", "submit_petition"),
    ("tố cáo cán bộ thôn thu tiền sai quy định", "submit_petition"),
    ("cống thoát nước bị tắc bốc mùi hôi thối mấy hôm nay", "submit_petition"),
    ("nha may xa khoi den ca khu dan cu, ai giai quyet", "submit_petition"),
    # status
    ("Hồ sơ KN-2611-0042 của tôi xử lý đến đâu rồi?", "check_status"),
    ("kiem tra giup em ma KN-1025-0007", "check_status"),
    ("phản ánh hôm trước của tôi đã được giải quyết chưa", "check_status"),
    ("don cua minh toi dau roi ad", "check_status"),
    # handoff
    ("cho tôi nói chuyện với cán bộ", "request_human"),
    ("gap nguoi that duoc khong", "request_human"),
    ("tôi cần gặp trực tiếp cán bộ phụ trách", "request_human"),
    # privacy
    ("xóa thông tin cá nhân của tôi đi", "delete_my_data"),
    ("toi muon xoa du lieu so dien thoai da gui", "delete_my_data"),
    # form answers
    ("ở tổ 5 phường Hòa Khánh", "inform"),
    ("0905123456", "inform"),
    ("tên tôi là Nguyễn Văn Nam", "inform"),
    ("moi truong", "inform"),
    ("giao thông", "inform"),
    # out of scope
    ("giá vàng hôm nay bao nhiêu", "out_of_scope"),
    ("tu vi tuoi ty nam nay the nao", "out_of_scope"),
    ("cho mình đặt 2 ly trà sữa", "out_of_scope"),
    ("kết quả bóng đá tối qua", "out_of_scope"),
    ("viết giúp tôi bài văn tả mẹ", "out_of_scope"),
    ("thoi tiet da nang ngay mai", "out_of_scope"),
]

#: Sent before measuring, so the first-request costs (lazy loading, caches) are not measured.
WARMUP: list[str] = [
    "xin chào",
    "quỹ vì người nghèo là gì",
    "duong bi ngap",
    "cảm ơn",
    "tra cuu ho so",
]
