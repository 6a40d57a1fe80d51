"""The words same-issue matching reads (issue 15): problem phrases by kind, function words, place
words and what may follow them. Data, in the order :mod:`bot.cases.cluster_text` uses it; the
phrases are accented Vietnamese, matched folded where folding leaves them unambiguous.
"""

from __future__ import annotations

from bot.vietnamese.normalize import strip_diacritics

__all__ = [
    "ACCENTED_FORM", "AMBIGUOUS_FOLDED", "GLUED_ONLY", "BY_FIRST_ACCENTED", "BY_FIRST_FOLDED", "CONCEPTS",
    "FAMILIES", "LOCATION_STOP", "LOWERCASE_NAME_KINDS", "MARKERS", "MAX_MARKER", "NAME_STOP", "NOT_NAMES",
    "NOT_NAMES_ACCENTED", "NOT_STREET_BEFORE", "SAFE_FOLDED_SINGLES", "SOFT_KINDS",
    "STOP_ACCENTED", "STOP_FOLDED", "STRONG_KINDS", "TITLES", "WEAK", "fold_word",
]



def fold_word(text: str) -> str:
    return strip_diacritics(text).lower()


def _phrases(spec: str) -> tuple[str, ...]:
    return tuple(p.strip().lower() for p in spec.split(",") if p.strip())


#: Problem kinds and the phrases (accented) that name them. Matched on folded syllables, except
#: single syllables in texts typed with diacritics, which are matched accented.
CONCEPTS: dict[str, tuple[str, ...]] = {
    k: _phrases(v)
    for k, v in {
        "flood": "ngập, ngập úng, úng, úng ngập, đọng nước, nước đọng, nước tràn, tràn vào nhà,"
        " lênh láng, biển nước, lụt, ngập lụt, không thoát được nước, thoát nước kém, nước dâng,"
        " không rút, nước rút, phải lội, lội nước, thành sông, thành ao, nước vào nhà, vào tận nhà",
        "drain": "cống, rãnh, hố ga, nắp cống, nắp hố ga, cống rãnh, thoát nước, nước thải,"
        " tắc cống, cống tắc, bùn, nạo vét, cống hộp, kênh, mương thoát nước",
        "smell": "mùi, hôi, hôi thối, thối, bốc mùi, mùi hôi, khó thở",
        "rubbish": "rác, rác thải, bãi rác, đổ rác, xả rác, phế thải, xà bần, đổ trộm, thu gom,"
        " xe rác, điểm tập kết, túi rác, chất thải, phế liệu",
        "burning": "đốt, đốt rác, khói, đốt rơm, hun khói, lò đốt",
        "dust": "bụi, khói bụi, rơi vãi, bụi bặm",
        "noise": "ồn, tiếng ồn, ồn ào, karaoke, hát, loa, loa kẹo kéo, nhạc, mở nhạc, tiếng máy,"
        " máy khoan, inh ỏi, ầm ĩ, tiếng động, đêm khuya, loa phát thanh, loa phường, chó sủa,"
        " la hét, hò hét, nẹt pô",
        "light": "đèn, đèn đường, đèn chiếu sáng, chiếu sáng, bóng đèn, cột đèn, tối om, tối thui,"
        " tối tăm, không sáng, đèn tắt, đèn hỏng, tối đen, chiếu sáng công cộng, ánh sáng,"
        " tối như mực, không có đèn, tối như hũ nút",
        "power": "mất điện, cúp điện, cắt điện, điện chập chờn, chập điện, điện yếu, biến áp,"
        " trạm điện, điện lực",
        "wires": "dây điện, dây cáp, cáp viễn thông, dây viễn thông, chằng chịt, võng xuống,"
        " dây điện thoại, dây internet, cột điện, cột điện nghiêng, dây cáp quang",
        "water": "mất nước, nước sạch, nước máy, nước yếu, không có nước, nước đục, nước bẩn,"
        " ống nước, vỡ ống, cắt nước, nước sinh hoạt, nước giếng, cấp nước, nước chảy yếu, chảy yếu,"
        " giếng khoan, nước nhiễm, nước vàng, hóa đơn nước, tiền nước",
        "road": "ổ gà, ổ voi, mặt đường, đường hỏng, xuống cấp, lún, sụt lún, sụt, nứt, bong tróc,"
        " lồi lõm, gồ ghề, hố, hư hỏng, sạt lở, sạt, trơn trượt, lầy lội, bê tông hóa, hố sâu,"
        " vá đường, trải nhựa, đường đất",
        "traffic": "tắc đường, ùn tắc, tắc nghẽn, đèn giao thông, đèn tín hiệu, biển báo,"
        " gờ giảm tốc, vạch kẻ, tai nạn, đua xe, lạng lách, xe tải, xe quá tải, xe container,"
        " phóng nhanh, vượt ẩu",
        "parking": "đỗ xe, đậu xe, trông giữ xe, trông xe, bãi xe, dừng đỗ, ô tô đỗ, giữ xe,"
        " đỗ ô tô, xe máy dựng, oto đỗ, xe đỗ, đỗ kín, đỗ chắn, đỗ tràn, đỗ dàn hàng, gửi xe,"
        " phí gửi xe, trông giữ",
        # "vỉa hè" / "lòng đường" alone say where (water on the pavement), not what: the
        # problem is someone taking them
        "encroach": "lấn chiếm, chiếm, chiếm vỉa hè, chiếm lòng đường, lấn vỉa hè, lấn ra,"
        " bày ra vỉa hè, bán hàng, hàng rong, bày bán, chiếm dụng,"
        " dựng lều, biển quảng cáo, họp chợ, chợ tạm, chợ cóc",
        "building": "xây dựng, xây trái phép, xây không phép, cơi nới, xây sai phép,"
        " xây nhà, giàn giáo, xây lấn, xây thêm tầng, nứt nhà, lún nhà, xây,"
        " nứt tường, lún nứt, ép cọc, đào móng, thi công, phá dỡ, nhà nguy hiểm",
        "land": "tranh chấp, sổ đỏ, giấy chứng nhận, quyền sử dụng đất, đền bù, giải phóng mặt bằng,"
        " thu hồi đất, bồi thường, tái định cư, lấn đất, mốc giới, ranh giới, đất công, sổ hồng,"
        " bìa đỏ, cấp sổ, đất nông nghiệp, chuyển mục đích",
        "tree": "cây xanh, cành cây, cây đổ, cây gãy, chặt cây, cây mục, tỉa cành, cành, cây to,"
        " cây cổ thụ, cây xà cừ, cây bàng, cây sấu, gốc cây, cành khô, cây nghiêng, đổ cây",
        "animal": "chó, chó thả rông, chó cắn, mèo, gia súc, chăn nuôi, lợn, chuồng, trâu bò,"
        " gia cầm, trại gà, trại lợn, chim bồ câu",
        "mosquito": "muỗi, sốt xuất huyết, phun thuốc, phun muỗi, bọ gậy, dịch bệnh, dịch",
        "theft": "trộm, mất trộm, cướp, giật, trộm cắp, móc túi, đột nhập, bẻ khóa, mất xe",
        "disorder": "đánh nhau, gây rối, côn đồ, say xỉn, tụ tập, quậy phá, hỗn chiến, đe dọa,"
        " nổ pô, đua xe",
        "drugs": "ma túy, nghiện, tiêm chích, kim tiêm, hút chích, bóng cười",
        "gambling": "cờ bạc, đánh bạc, lô đề, cá độ, sát phạt",
        "fraud": "lừa đảo, lừa, giả danh, chiếm đoạt, mạo danh",
        "loan_shark": "cho vay nặng lãi, vay nặng lãi, tín dụng đen, đòi nợ, siết nợ, tạt sơn,"
        " ném chất bẩn, mắm tôm, khủng bố đòi nợ, xã hội đen, cho vay",
        "subsidy": "trợ cấp, phụ cấp, chi trả, lương hưu, tiền hỗ trợ, bảo trợ xã hội,"
        " trợ cấp xã hội, chậm chi, chế độ, tiền trợ cấp, hưu trí",
        "poverty": "hộ nghèo, cận nghèo, bình xét, thoát nghèo, nhà đại đoàn kết",
        "gift": "quà, quà tết, tặng quà, phát quà, suất quà",
        "hardship": "neo đơn, ốm nặng, bệnh nặng, liệt giường, hoàn cảnh khó khăn,"
        " thăm hỏi, giúp đỡ, trợ giúp, sống một mình, không nơi nương tựa, ốm đau",
        "housing": "nhà dột, mái dột, dột nát, sửa nhà, làm nhà, nhà tạm, nhà xuống cấp",
        "bridge": "cầu tạm, cây cầu, cầu sắt, ván cầu, cầu gãy, cầu yếu, cầu khỉ, cầu treo,"
        " thành cầu, lan can cầu",
        "insurance": "bảo hiểm y tế, bhyt, thẻ bảo hiểm, bảo hiểm xã hội, bhxh, thẻ bhyt",
        "merit": "người có công, thương binh, liệt sĩ, gia đình chính sách, bệnh binh",
        "front": "mặt trận, ban công tác mặt trận, cán bộ mặt trận, hội nghị, tiếp xúc cử tri,"
        " đại biểu, họp dân, lấy ý kiến",
        "fees": "thu phí, thu tiền, đóng tiền, lệ phí, phí, quỹ, đóng góp, vận động, ủng hộ,"
        " thu sai, lạm thu, khoản thu",
        "school": "lớp học, cổng trường, giáo viên, học phí, nhà trường",
        "fire": "cháy, phòng cháy, chữa cháy, bình cứu hỏa, hỏa hoạn, nổ, chập cháy, cháy nổ,"
        " bình gas, khí gas, rò gas",
        "ritual": "vàng mã, đốt vàng mã, đám ma, đám tang, đám cưới, dựng rạp, rạp cưới, tang lễ",
        "bus": "xe buýt, điểm dừng xe buýt, nhà chờ, tuyến buýt",
        "health": "trạm y tế, tiêm chủng, vắc xin, khám bệnh, bệnh viện, khám chữa bệnh",
        "elevator": "thang máy, kẹt thang, thang bộ",
        "paperwork": "thủ tục, hồ sơ, giấy tờ, chứng thực, công chứng, cư trú, tạm trú, hộ khẩu,"
        " căn cước, cccd, khai sinh, khai tử, đăng ký kết hôn, giấy xác nhận",
        "pollution": "ô nhiễm, xưởng, nhà máy, hóa chất, xả thải, khí thải, lò gạch, lò than,"
        " than tổ ong, bếp than, mùi sơn",
    }.items()
}

#: Words that carry no problem and no place: function words, politeness, complaint framing.
STOP_ACCENTED = {
    w for phrase in _phrases(
        "và, với, của, là, thì, mà, có, không, chưa, đã, đang, sẽ, bị, được, cho, các, những, mọi,"
        " một, hai, ba, này, kia, đó, đấy, ấy, nào, gì, ai, đâu, rồi, vẫn, còn, cũng, lại, nữa, rất,"
        " quá, lắm, hơn, nhất, nhiều, ít, tôi, mình, em, anh, chị, ông, bà, cô, chú, bác, cháu,"
        " chúng, ta, họ, nó, nhà, dân, người, bà con, hộ dân, xin, kính, gửi, đề nghị, kiến nghị,"
        " phản ánh, phản ảnh, đề xuất, mong, muốn, cơ quan, chức năng, chính quyền, địa phương,"
        " ủy ban, ubnd, phường, xã, quận, huyện, thành phố, khu vực, tình trạng, hiện tượng, việc,"
        " vấn đề, vụ, chuyện, sự, khi, lúc, ngày, tháng, năm, tuần, hôm, nay, qua, sáng,"
        " chiều, tối nay, đêm, giờ, từ, đến, tới, tại, ở, trong, ngoài, trên, dưới, trước, sau,"
        " giữa, cạnh, gần, đầu, cuối, đoạn, ngay, luôn, thường, xuyên, thường xuyên, suốt, mãi,"
        " hết, cả, đều, chỉ, như, nên, vì, do, để, nếu, nhưng, hay, hoặc, thế, vậy, sao, bao,"
        " giờ, lâu, mấy, vài, nhờ, giúp, giải quyết, xử lý, kiểm tra, xem, xét, sớm, ngay, khẩn,"
        " cấp, trương, ạ, nhé, ơi, à, ừ, vâng, dạ, thưa, cảm ơn, cám ơn, làm, gây, ảnh hưởng,"
        " đời sống, sinh hoạt, đi lại, rất nhiều, khu, nơi, chỗ, bên, phía, số, thôn, xóm, tổ,"
        " hẻm, ngõ, ngách, kiệt, đường, phố, lần, đi, về, ra, vào, lên, xuống, thấy, biết, nói,"
        " hỏi, báo, ý, kiến, tự, mặc dù, tuy, đợt, kéo dài, liên tục, hàng, hằng, mỗi, bất kỳ,"
        " mọi người, cư dân, hộ, gia đình, nhân dân, cơ sở, đơn vị, chưa được, không được"
    ) for w in phrase.split()
}
STOP_FOLDED = {fold_word(w) for w in STOP_ACCENTED}
#: Framing words kept at a low weight (they help a little when nothing else is shared).
WEAK = {fold_word(w) for w in _phrases("hỏng, hư, vấn đề, nguy hiểm, mất an toàn, ô nhiễm, bẩn")}

# --------------------------------------------------------------------------- place grammar

#: Place words (folded, as word tuples) → (kind, what may follow: "num", "name", "code").
#: Kinds: alley, group (tổ), area (khu), village (thôn), hamlet (xóm), house, street, site:*.
MARKERS: dict[tuple[str, ...], tuple[str, str]] = {}


def _marker(words: str, kind: str, follows: str) -> None:
    for w in words.split("|"):
        MARKERS[tuple(fold_word(w).split())] = (kind, follows)


_marker("ngõ|ngo|hẻm|kiệt|ngõ hẻm|hẻm số|ngõ số|kiệt số|ng", "alley", "num|name")
_marker("ngách|ngach số|ngách số", "alley", "num")
_marker("tổ dân phố|tdp|tổ dp|tổ dân phố số|tdp số|tổ số|tổ|to dan pho|tổ dân cư", "group", "num")
_marker("khu phố|kp|khu dân cư|kdc|cụm dân cư|cụm|khu", "area", "num|name|code")
_marker("thôn|ấp|bản|làng", "village", "num|name")
_marker("xóm|đội", "hamlet", "num|name")
_marker("số nhà|nhà số|sn|số", "house", "num")
_marker("phố|đường|tuyến đường|đại lộ|tuyến phố|con đường|đg|dg", "street", "name|num")
# "đường liên thôn Uy Nỗ" is a road named after the village, not the village itself
_marker("đường liên thôn|đường liên xã|tuyến đường liên thôn|tuyến đường liên xã",
        "street", "name")
_marker("đoạn", "street", "name")  # "đoạn Trung Kính": only before a capitalised name
_marker("quốc lộ|ql|tỉnh lộ|tl|đường tỉnh|dt", "street", "num")
_marker("chợ", "site:market", "name")
_marker("trường|trường tiểu học|trường thcs|trường thpt|trường mầm non|trường mn|trường th"
        "|trường trung học cơ sở|trường trung học phổ thông", "site:school", "name")
_marker("chung cư|cc|tòa nhà|tòa|nhà", "site:building", "code|name")
_marker("khu tập thể|ktt|tập thể", "site:estate", "name|code")
_marker("khu đô thị|kđt|kdt|khu đt", "site:estate", "name")
_marker("công viên|vườn hoa|cv", "site:park", "name")
_marker("nhà văn hóa|nvh|nhà sinh hoạt cộng đồng", "site:hall", "name|num")
_marker("hồ", "site:lake", "name")
_marker("cầu|cầu vượt|gầm cầu|chân cầu|gầm cầu vượt|chân cầu vượt", "site:bridge", "name")
_marker("phường|xã|quận|huyện|thị trấn|thị xã|tp|thành phố", "ward", "name")
MAX_MARKER = max(len(k) for k in MARKERS)
#: Letters that are a place word only glued to a number: "K54" (kiệt 54, as written in Huế and
#: Đà Nẵng); alone, "k" is the chat spelling of "không".
GLUED_ONLY = {"k": "kiet"}

#: Markers whose folded form is an everyday word: only with the accent typed, or a capital name.
AMBIGUOUS_FOLDED = {"doan", "cho", "ho", "cau", "lang", "truong", "to", "ban", "doi", "xa", "nha", "so",
                     "khu", "cum", "tl", "dt", "cc", "tp", "ngo", "ng", "ap"}
ACCENTED_FORM = {"ap": "ấp", "cho": "chợ", "ho": "hồ", "cau": "cầu", "lang": "làng", "truong": "trường",
                  "to": "tổ", "ban": "bản", "doi": "đội", "xa": "xã", "nha": "nhà", "so": "số",
                  "cum": "cụm", "ngo": "ngõ"}
#: Kinds that never block or link on their own (wards are the unit itself).
SOFT_KINDS = {"ward"}
#: Place words that end a capitalised name ("Láng Hạ Ngõ 5" is two places; "Hoàng Cầu" one).
STRONG_KINDS = {"alley", "group", "house", "area", "street"}
#: Kinds whose name may be typed in lower case in text without diacritics ("thon dong").
LOWERCASE_NAME_KINDS = {"street", "village", "hamlet", "area", "site:estate", "alley"}
#: Words before "đường/phố" that make it the roadway, not a street name ("mặt đường").
NOT_STREET_BEFORE = {fold_word(w) for w in _phrases("mặt, lòng, vỉa, lề, tổ dân, thành, khu, dãy, xá,"
                                               " đường, nội, ống, dây, góc")}
#: Words that end a lowercase street name or cannot start one.
NAME_STOP = {
    fold_word(w) for w in _phrases(
        "này, kia, đó, đấy, ấy, tôi, em, anh, chị, nhà, ta, bị, có, đã, đang, vẫn, lại,"
        " không, chưa, rồi, và, với, của, ở, mà, thì, là, cũng, các, những, nữa, nào, gì, rất,"
        " quá, lắm, luôn, hay, thường, mỗi, khi, lúc, từ, đến, tới, tại, trong, ngoài, trên,"
        " dưới, trước, sau, cạnh, gần, đầu, cuối, đoạn, chỗ, nơi, bên, phía, ngày, đêm, hôm, nay,"
        " sáng, chiều, tối, trưa, mưa, nước, xe, người, dân, hộ, nhiều, ít, cả, hết, đi, ra, vào,"
        " lên, xuống, về, mới, cũ, chính, cho, do, vì, nên, để, như, bao, giờ, mấy, ai, ạ, nhé,"
        " kéo, máy, điện, trời, lớn, to, nhỏ, dài, ngắn, nội, bộ, liên, sạch, bẩn, tải, hàng,"
        " dẫn, ống, dây, sá, xá, nát, hỏng, ngập, mùi, số, cùng, chung, hai, ba, bốn, năm, một, |")
}

#: Words that end a place name typed alone in the location line ("Xã Đàn đoạn giữa phố"); a
#: short list, as the name may be typed without diacritics ("xa dan": "dan" is not "dân" here).
LOCATION_STOP = {fold_word(w) for w in _phrases("đoạn, gần, cạnh, trước, sau, chỗ, ngay, ở, tại,"
                                                " phía, đầu, cuối, giữa, đối diện, và, bên, trong,"
                                                " ngoài, thuộc, của, khu vực, nhà, quanh")}

#: Words before a person's name (which is then kept nowhere).
TITLES = {fold_word(w) for w in _phrases("ông, bà, anh, chị, em, cô, chú, bác, cháu, cụ, chủ, hộ, nhà,"
                                   " gia đình, đồng chí, đ/c, cán bộ, tên, họ")}
#: Capitalised words that are institutions or dates, not places (compared accented when typed so).
NOT_NAMES_ACCENTED = set(_phrases("mặt, ủy, uỷ, ban, hội, công, chi, đảng, nhà, tết, chủ, thứ,"
                                      " tháng, phường, xã, quận, thành, tổ, ubnd, mttq, bhyt, bhxh,"
                                      " hđnd, nhà nước, chính, sở, bộ, điện, cảnh, văn, trung"))
NOT_NAMES = {fold_word(w) for w in NOT_NAMES_ACCENTED}

#: Single folded syllables that name a problem whatever accents were left out.
SAFE_FOLDED_SINGLES = {
    "ngap", "ung", "rac", "karaoke", "trom", "cuop", "lun", "bui", "muoi", "nghien", "xay",
    "bhyt", "bhxh", "cccd", "phep", "lut",
}


BY_FIRST_ACCENTED: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
BY_FIRST_FOLDED: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
for _concept, _phrase_list in CONCEPTS.items():
    for _phrase in _phrase_list:
        _acc, _fold = tuple(_phrase.split()), tuple(fold_word(_phrase).split())
        BY_FIRST_ACCENTED.setdefault(_acc[0], []).append((_concept, _acc))
        if len(_fold) > 1 or _fold[0] in SAFE_FOLDED_SINGLES:
            BY_FIRST_FOLDED.setdefault(_fold[0], []).append((_concept, _fold))


#: Problem kinds that are often one problem told two ways (half credit when only these agree).
FAMILIES: dict[str, str] = {
    kind: family
    for family, kinds in {
        "water_out": "flood drain",
        "dirt": "smell pollution rubbish burning dust drain",
        "light": "light power wires",
        "road": "road traffic bridge",
        "crime": "theft disorder drugs gambling fraud loan_shark",
        "welfare": "subsidy poverty gift insurance merit",
        "land": "building land",
        "street": "encroach parking",
    }.items()
    for kind in kinds.split()
}
