"""Same-issue detection (issue 15): does a new case report the same problem at the same place as
an open case of its unit?

A case becomes a :class:`CaseSignature`, small enough to store as JSON on the case row:

* **places** — what the citizen wrote after a place word: ``ngõ/ngách/hẻm/kiệt`` + number
  (``ngõ 5/12`` is alley 5, lane 12), ``tổ dân phố/TDP/tổ`` + number, ``khu phố/khu/cụm``,
  ``thôn/làng/ấp/bản``, ``xóm/đội``, ``số nhà/số`` + number, ``phố/đường`` + street name, and
  sites (``chợ``, ``trường``, ``chung cư``, ``tòa``, ``khu tập thể``, ``khu đô thị``, ``công
  viên``, ``nhà văn hóa``). A name right after a number (``ngõ 5 Láng Hạ``, ``TDP 12 Tân Mai``)
  qualifies it. Capitalised words elsewhere (``Tân Mai``) are kept as soft *names*.
* **concepts** — the problem in a few dozen kinds (flooding, street lights, rubbish, noise…) from
  a phrase list, so ``ngập`` and ``úng``, ``đèn đường`` and ``chiếu sáng`` meet;
* **terms** — the remaining words as folded syllables and syllable pairs (a stand-in for
  underthesea's words that also works on text typed without diacritics), weighted, unit length.

Everything is matched on folded text (no case, no diacritics), with the accented form used where
folding makes words ambiguous (``làng``/``Láng``, ``hồ``/``hộ``, ``chợ``/``cho``).

:func:`score` gates the text similarity by the places: two explicit places of the same kind that
differ (``ngõ 5`` / ``ngõ 7``, ``TDP 12 Tân Mai`` / ``TDP 12 Tương Mai``) never match however alike
the complaints are; a shared place lets a moderate similarity through; cases without a place
need a closer text, and a place on only one side a closer one still. :func:`best_match` picks the
best candidate above :data:`THRESHOLD`.

Candidates come from the database by :meth:`CaseSignature.keys` / :meth:`CaseSignature.probe_keys`
(see :mod:`bot.cases.linking`): a case with places is only compared with cases sharing a place
key or with place-less cases of the same problem, so the cost of a link does not grow with the
unit's open cases.

No underthesea here: services import no NLP framework (ARCHITECTURE.md, rule 2), and folded
syllable pairs do what its word segmentation would for matching, also on unaccented text.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from bot.vietnamese.normalize import normalize, strip_diacritics

__all__ = [
    "THRESHOLD",
    "CaseSignature",
    "Place",
    "best_match",
    "score",
    "signature",
]

#: Version of the signature format; a stored signature of another version is recomputed.
VERSION = 1
#: A candidate matches when :func:`score` reaches this.
THRESHOLD = 0.25
#: Terms kept per signature (the heaviest).
MAX_TERMS = 48

# --------------------------------------------------------------------------- vocabulary


def _f(text: str) -> str:
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
        "encroach": "lấn chiếm, vỉa hè, lòng đường, bán hàng, hàng rong, bày bán, chiếm dụng,"
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
_STOP_ACCENTED = {
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
_STOP_FOLDED = {_f(w) for w in _STOP_ACCENTED}
#: Framing words kept at a low weight (they help a little when nothing else is shared).
_WEAK = {_f(w) for w in _phrases("hỏng, hư, vấn đề, nguy hiểm, mất an toàn, ô nhiễm, bẩn")}

# --------------------------------------------------------------------------- place grammar

#: Place words (folded, as word tuples) → (kind, what may follow: "num", "name", "code").
#: Kinds: alley, group (tổ), area (khu), village (thôn), hamlet (xóm), house, street, site:*.
_MARKERS: dict[tuple[str, ...], tuple[str, str]] = {}


def _marker(words: str, kind: str, follows: str) -> None:
    for w in words.split("|"):
        _MARKERS[tuple(_f(w).split())] = (kind, follows)


_marker("ngõ|ngo|hẻm|kiệt|ngõ hẻm|hẻm số|ngõ số|kiệt số|ng", "alley", "num|name")
_marker("ngách|ngach số|ngách số", "alley", "num")
_marker("tổ dân phố|tdp|tổ dp|tổ dân phố số|tdp số|tổ số|tổ|to dan pho|tổ dân cư", "group", "num")
_marker("khu phố|kp|khu dân cư|kdc|cụm dân cư|cụm|khu", "area", "num|name|code")
_marker("thôn|ấp|bản|làng", "village", "num|name")
_marker("xóm|đội", "hamlet", "num|name")
_marker("số nhà|nhà số|sn|số", "house", "num")
_marker("phố|đường|tuyến đường|đại lộ|tuyến phố|con đường", "street", "name|num")
_marker("quốc lộ|ql|tỉnh lộ|tl|đường tỉnh|dt", "street", "num")
_marker("chợ", "site:market", "name")
_marker("trường|trường tiểu học|trường thcs|trường thpt|trường mầm non|trường mn|trường th"
        "|trường trung học cơ sở|trường trung học phổ thông", "site:school", "name")
_marker("chung cư|cc|tòa nhà|tòa|nhà", "site:building", "code|name")
_marker("khu tập thể|ktt|tập thể", "site:estate", "name|code")
_marker("khu đô thị|kđt|kdt|khu đt", "site:estate", "name")
_marker("công viên|vườn hoa", "site:park", "name")
_marker("nhà văn hóa|nvh|nhà sinh hoạt cộng đồng", "site:hall", "name|num")
_marker("hồ", "site:lake", "name")
_marker("cầu|cầu vượt|gầm cầu|chân cầu|gầm cầu vượt|chân cầu vượt", "site:bridge", "name")
_marker("phường|xã|quận|huyện|thị trấn|thị xã|tp|thành phố", "ward", "name")
_MAX_MARKER = max(len(k) for k in _MARKERS)

#: Markers whose folded form is an everyday word: only with the accent typed, or a capital name.
_AMBIGUOUS_FOLDED = {"cho", "ho", "cau", "lang", "truong", "to", "ban", "doi", "xa", "nha", "so",
                     "khu", "cum", "tl", "dt", "cc", "tp", "ngo", "ng", "ap"}
_ACCENTED_FORM = {"ap": "ấp", "cho": "chợ", "ho": "hồ", "cau": "cầu", "lang": "làng", "truong": "trường",
                  "to": "tổ", "ban": "bản", "doi": "đội", "xa": "xã", "nha": "nhà", "so": "số",
                  "cum": "cụm", "ngo": "ngõ"}
#: Kinds that never block or link on their own (wards are the unit itself).
_SOFT_KINDS = {"ward"}
#: Place words that end a capitalised name ("Láng Hạ Ngõ 5" is two places; "Hoàng Cầu" one).
_STRONG_KINDS = {"alley", "group", "house", "area", "street"}
#: Kinds whose name may be typed in lower case in text without diacritics ("thon dong").
_LOWERCASE_NAME_KINDS = {"street", "village", "hamlet", "area", "site:estate", "alley"}
#: Words before "đường/phố" that make it the roadway, not a street name ("mặt đường").
_NOT_STREET_BEFORE = {_f(w) for w in _phrases("mặt, lòng, vỉa, lề, tổ dân, thành, khu, dãy, xá,"
                                               " đường, nội, ống, dây, góc")}
#: Words that end a lowercase street name or cannot start one.
_NAME_STOP = {
    _f(w) for w in _phrases(
        "này, kia, đó, đấy, ấy, tôi, em, anh, chị, nhà, ta, bị, có, đã, đang, vẫn, lại,"
        " không, chưa, rồi, và, với, của, ở, mà, thì, là, cũng, các, những, nữa, nào, gì, rất,"
        " quá, lắm, luôn, hay, thường, mỗi, khi, lúc, từ, đến, tới, tại, trong, ngoài, trên,"
        " dưới, trước, sau, cạnh, gần, đầu, cuối, đoạn, chỗ, nơi, bên, phía, ngày, đêm, hôm, nay,"
        " sáng, chiều, tối, trưa, mưa, nước, xe, người, dân, hộ, nhiều, ít, cả, hết, đi, ra, vào,"
        " lên, xuống, về, mới, cũ, chính, cho, do, vì, nên, để, như, bao, giờ, mấy, ai, ạ, nhé,"
        " kéo, máy, điện, trời, lớn, to, nhỏ, dài, ngắn, nội, bộ, liên, sạch, bẩn, tải, hàng,"
        " dẫn, ống, dây, sá, xá, nát, hỏng, ngập, mùi, số, cùng, chung, hai, ba, bốn, năm, một, |")
}

#: Words before a person's name (which is then kept nowhere).
_TITLES = {_f(w) for w in _phrases("ông, bà, anh, chị, em, cô, chú, bác, cháu, cụ, chủ, hộ, nhà,"
                                   " gia đình, đồng chí, đ/c, cán bộ, tên, họ")}
#: Capitalised words that are institutions or dates, not places (compared accented when typed so).
_NOT_NAMES_ACCENTED = set(_phrases("mặt, ủy, uỷ, ban, hội, công, chi, đảng, nhà, tết, chủ, thứ,"
                                      " tháng, phường, xã, quận, thành, tổ, ubnd, mttq, bhyt, bhxh,"
                                      " hđnd, nhà nước, chính, sở, bộ, điện, cảnh, văn, trung"))
_NOT_NAMES = {_f(w) for w in _NOT_NAMES_ACCENTED}

_TOKEN_RE = re.compile(r"[A-Za-z]{1,3}\d{1,3}[A-Za-z]?(?!\w)|\d+(?:[a-zA-Z](?![^\W\d_]))?(?:/\d+(?:[a-zA-Z](?![^\W\d_]))?)*|[^\W\d_]+")
_SENTENCE_END = re.compile(r"[.!?\n:;]\s*$")


@dataclass(frozen=True)
class _Tok:
    acc: str  # lower-case, accented as typed
    fold: str  # lower-case, folded
    cap: bool  # typed with a capital, not at a sentence start
    num: bool
    code: bool  # a letter-digit code: B2, CT1, A3
    acronym: bool = False  # BHYT, KTT


_BOUNDARY = _Tok("|", "|", False, False, False)


def _tokens(text: str, *, place_line: bool = False) -> list[_Tok]:
    """Tokens with their capitalisation as a hint of names: a capital at a sentence start says
    nothing, unless the next word has one too ("Kiêu Kỵ có bãi rác…"); in the typed location
    (``place_line``) every capital counts."""
    out: list[_Tok] = []
    starts: list[int] = []  # indices of capitalised sentence-initial tokens
    for m in _TOKEN_RE.finditer(text):
        word = m.group(0)
        before = text[: m.start()]
        sentence_start = not place_line and (
            not before.strip() or bool(_SENTENCE_END.search(before)))
        acc = word.lower()
        cap = word[0].isupper() and not sentence_start
        if sentence_start and word[0].isupper() and word[0].isalpha():
            starts.append(len(out))
        if word[0].isalpha() and word[-1].isdigit() or (word[0].isalpha() and any(
                c.isdigit() for c in word)):
            letters = re.match(r"[a-z]+", acc)
            head = letters.group(0) if letters else ""
            if (head,) in _MARKERS:  # "tdp12", "ngo5": a place word glued to its number
                out.append(_Tok(head, head, cap, False, False))
                out.append(_Tok(acc[len(head):], acc[len(head):], False, True, False))
                continue
            out.append(_Tok(acc, acc, cap, False, True))  # a code: B2, CT1, A3
            continue
        out.append(_Tok(acc, strip_diacritics(acc), cap, word[0].isdigit(), False,
                        len(word) > 1 and word.isupper()))
    for i in starts:
        if i + 1 < len(out) and out[i + 1].cap and not out[i + 1].acronym:
            t = out[i]
            out[i] = _Tok(t.acc, t.fold, True, t.num, t.code, t.acronym)
    return out


# --------------------------------------------------------------------------- signature


@dataclass(frozen=True)
class Place:
    """One explicit place: ``kind`` (alley, group, street, …), ``value`` (a number such as
    ``5`` or ``5/12``, or a folded name), ``qualifier`` (the name right after it, folded)."""

    kind: str
    value: str
    qualifier: str = ""

    @property
    def key(self) -> str:
        """Look-up key: the alley/house number without its lane, a name's first word (names
        match by their beginning, so "linh" finds "linh nam")."""
        value = self.value.split("/")[0] if self.value[:1].isdigit() else self.value.split()[0]
        return f"{self.kind}:{value}"

    def compatible(self, other: Place) -> bool:
        if self.kind != other.kind:
            return False
        if not _values_compatible(self.value, other.value):
            return False
        return not self.qualifier or not other.qualifier or _names_compatible(
            self.qualifier, other.qualifier)


def _values_compatible(a: str, b: str) -> bool:
    if a == b:
        return True
    if "/" in a or "/" in b:  # 5 ~ 5/12 (the alley and a lane in it), 5/12 !~ 5/14
        pa, pb = a.split("/"), b.split("/")
        n = min(len(pa), len(pb))
        return pa[:n] == pb[:n]
    return _names_compatible(a, b) if not (a[:1].isdigit() or b[:1].isdigit()) else False


def _names_compatible(a: str, b: str) -> bool:
    """Folded names agree when one is the other's beginning ("lang ha" ~ "lang ha moi")."""
    wa, wb = a.split(), b.split()
    n = min(len(wa), len(wb))
    if wa[:n] == wb[:n]:
        return True
    # "NCT" for "Nguyễn Chí Thanh" (or for a name cut short: "nguyen")
    for x, y in ((wa, wb), (wb, wa)):
        if len(x) == 1 and _initials(x[0]) and (
                x[0] == "".join(w[0] for w in y) or (len(y) == 1 and y[0][0] == x[0][0])):
            return True
    return False


def _initials(word: str) -> bool:
    """"nct", "hbt": two to four letters and no vowel, so not a Vietnamese syllable."""
    return 2 <= len(word) <= 4 and word.isalpha() and not any(c in "aeiouy" for c in word)


@dataclass(frozen=True)
class CaseSignature:
    """What :func:`score` compares; :meth:`to_json` / :meth:`from_json` for the ``signature``
    column."""

    category: str | None
    places: tuple[Place, ...] = ()
    names: tuple[str, ...] = ()  # capitalised words not after a place word (soft places)
    concepts: tuple[str, ...] = ()
    terms: dict[str, float] = field(default_factory=dict)  # unit length
    version: int = VERSION

    @cached_property
    def hard_places(self) -> tuple[Place, ...]:
        return tuple(p for p in self.places if p.kind not in _SOFT_KINDS)

    @cached_property
    def word_norm(self) -> float:
        """Length of the term vector without the problem kinds (see :func:`text_similarity`)."""
        return math.sqrt(sum(v * v for k, v in self.terms.items() if k[0] != "#"))

    def _place_keys(self) -> tuple[list[str], list[str]]:
        """(stored, probed) place keys: finer places (alley, house, group, site…: ``alley:5``)
        both ways; a street as ``street:<first word>`` when nothing finer is named, else as
        ``street+:<first word>`` — so a case about a whole street finds every case on it, while
        a case in an alley reads the street's street-only cases, not every alley of it."""
        fine = sorted({p.key for p in self.hard_places if p.kind != "street"})
        streets = sorted({p.key for p in self.hard_places if p.kind == "street"})
        if not fine:
            return streets, streets + [k.replace("street:", "street+:", 1) for k in streets]
        return fine + [k.replace("street:", "street+:", 1) for k in streets], fine + streets

    def _problems(self, *, with_category: bool) -> list[str]:
        """The problem kinds; the category too when asked, or when no kind was recognised."""
        category = f"cat:{self.category or '-'}"
        if with_category or not self.concepts:
            return [*self.concepts, category]
        return list(self.concepts)

    def keys(self) -> list[str]:
        """Index keys stored for this case. With a place: ``<place>|<problem>`` for each place
        (see :meth:`_place_keys`) and each problem kind and the category (``alley:5|flood``,
        ``alley:5|cat:ha_tang``), and ``+:<problem>``; without: ``-:<problem>`` (problem kinds,
        or the category when none was recognised)."""
        stored, _ = self._place_keys()
        loose = self._problems(with_category=False)
        if not stored:
            return [f"-:{c}" for c in loose]
        problems = self._problems(with_category=True)
        return [f"{p}|{c}" for p in stored for c in problems] + [f"+:{c}" for c in loose]

    def lookup(self) -> list[str]:
        """The keys to find candidates by: same place and same problem kind or category, or no
        place and the same problem; without a place, the same problem with or without one."""
        _, probed = self._place_keys()
        loose = self._problems(with_category=False)
        if not probed:
            return [f"+:{c}" for c in loose] + [f"-:{c}" for c in loose]
        problems = self._problems(with_category=True)
        return [f"{p}|{c}" for p in probed for c in problems] + [f"-:{c}" for c in loose]

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.version,
            "cat": self.category,
            "places": [[p.kind, p.value, p.qualifier] for p in self.places],
            "names": list(self.names),
            "concepts": list(self.concepts),
            "terms": {k: round(v, 4) for k, v in self.terms.items()},
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> CaseSignature:
        if isinstance(data, str):
            data = json.loads(data)
        assert isinstance(data, dict)
        return cls(
            category=data.get("cat"),
            places=tuple(Place(*p) for p in data.get("places", ())),
            names=tuple(data.get("names", ())),
            concepts=tuple(data.get("concepts", ())),
            terms={str(k): float(v) for k, v in (data.get("terms") or {}).items()},
            version=int(data.get("v", 0)),
        )


def _is_name_tok(tok: _Tok, lowercase_ok: bool) -> bool:
    if tok.num or tok.code:
        return False
    if tok.cap:
        return True
    return lowercase_ok and tok.fold not in _NAME_STOP and len(tok.fold) > 1


def _match_marker(toks: Sequence[_Tok], i: int, accented: bool) -> tuple[int, str, str] | None:
    """The longest place word starting at ``toks[i]``: (length, kind, what may follow)."""
    for n in range(min(_MAX_MARKER, len(toks) - i), 0, -1):
        words = tuple(t.fold for t in toks[i : i + n])
        hit = _MARKERS.get(words)
        if hit is None:
            continue
        if n == 1 and words[0] in _AMBIGUOUS_FOLDED:
            # A folded everyday word is a place word only with its accent typed, or before a
            # number / a capitalised name.
            want = _ACCENTED_FORM.get(words[0])
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            typed_ok = want is not None and accented and toks[i].acc == want
            if words[0] == "ngo" and (typed_ok or not accented or toks[i].acc == "ngo"):
                typed_ok = True
            if nxt is None or not (nxt.num or nxt.cap or (typed_ok and "name" in hit[1])
                                   or ("code" in hit[1] and nxt.code)):
                continue
            if accented and want is not None and toks[i].acc != want and not (
                    words[0] == "ngo" and toks[i].acc == "ngo"):
                continue  # "cho 5 hộ" is not "chợ"
        return n, hit[0], hit[1]
    return None


def _read_name(toks: Sequence[_Tok], j: int, lowercase_ok: bool, limit: int = 4,
               blocked: frozenset[int] | set[int] = frozenset()) -> tuple[str, int]:
    """A name starting at ``toks[j]``: a run of capitalised words, or (``lowercase_ok``) of
    words that are neither function words nor part of a problem phrase."""
    words: list[str] = []
    k = j
    cap_run = j < len(toks) and toks[j].cap
    while k < len(toks) and len(words) < limit:
        t = toks[k]
        hit = _match_marker(toks, k, True)
        if hit is not None and (not cap_run or hit[1] in _STRONG_KINDS):
            break  # "Hoàng Cầu", "Vĩnh Hồ": a capitalised site word inside a name
        if cap_run:
            if not t.cap:
                break
        elif k in blocked or not _is_name_tok(t, lowercase_ok):
            break
        words.append(t.fold)
        k += 1
    return " ".join(words), k


def _places(toks: list[_Tok], accented: bool,
            blocked: set[int]) -> tuple[list[Place], set[int]]:
    places: list[Place] = []
    used: set[int] = set()
    i = 0
    while i < len(toks):
        hit = _match_marker(toks, i, accented)
        if hit is None:
            tok = toks[i]
            if tok.code:  # "A1", "B2", "CT1" alone: a block of flats
                places.append(Place("site:building", tok.fold))
                used.add(i)
            elif tok.num and "/" not in tok.fold and i > 0 and toks[i - 1].fold in ("o", "tai") \
                    and i + 1 < len(toks) and (toks[i + 1].cap or not accented):
                # "ở 25 Minh Khai": a house number and its street without "số"
                street, j = _read_name(toks, i + 1, not accented, limit=2, blocked=blocked)
                if len(street.split()) >= 2 or (street and toks[i + 1].cap):
                    places += [Place("house", tok.fold, street), Place("street", street)]
                    used.update(range(i, j))
                    i = j
                    continue
            i += 1
            continue
        n, kind, follows = hit
        j = i + n
        if j < len(toks) and toks[j].fold == "so":
            j += 1
        value = ""
        if j < len(toks) and toks[j].num and "num" in follows:
            value = toks[j].fold
            j += 1
            if kind == "alley" and j + 1 < len(toks) and toks[j].fold == "ngach" and toks[j + 1].num:
                value = f"{value}/{toks[j + 1].fold}"
                j += 2
        elif j < len(toks) and toks[j].code and "code" in follows:
            value = toks[j].fold
            j += 1
        elif "name" in follows and j < len(toks):
            prev = toks[i - 1].fold if i > 0 else ""
            lowercase_ok = (kind in _LOWERCASE_NAME_KINDS and (kind == "street" or not accented)
                            and (kind != "street" or prev not in _NOT_STREET_BEFORE))
            if kind == "street" and toks[i].fold == "duong" and not toks[j].cap:
                lowercase_ok = lowercase_ok and i > 0 and (toks[i - 1].num or toks[i - 1].fold in (
                    "tuyen", "o", "tai", "duong", "pho") or prev in {"so"})
            value, j = _read_name(toks, j, lowercase_ok, limit=4 if kind == "street" else 2,
                                  blocked=blocked)
        if not value:
            i += 1
            continue
        qualifier = ""
        if kind in ("alley", "group", "house", "area", "hamlet", "village") and j < len(toks):
            k = j
            if toks[k].fold in ("pho", "duong") and k + 1 < len(toks):
                k += 1
                qualifier, k2 = _read_name(toks, k, True, blocked=blocked)
            else:
                qualifier, k2 = _read_name(toks, k, True, limit=3, blocked=blocked)
            if qualifier:
                if kind in ("alley", "house"):
                    places.append(Place("street", qualifier))
                used.update(range(j, k2))
                j = k2
        places.append(Place(kind, value, qualifier))
        used.update(range(i, j))
        i = j
    return places, used


def _concepts(toks: Sequence[_Tok], accented: bool) -> tuple[list[str], set[int]]:
    """Problem kinds named in the text, and the tokens naming them. Text typed with diacritics
    is matched accented ("công tác" is not "cống tắc"); text without, folded — single syllables
    only when folding leaves them unambiguous (``ngap`` yes, ``den`` — đèn/đến — no)."""
    found: dict[str, None] = {}
    covered: set[int] = set()
    seq = [t.acc for t in toks] if accented else [t.fold for t in toks]
    index = _BY_FIRST_ACCENTED if accented else _BY_FIRST_FOLDED
    hits: list[tuple[int, int, str]] = []
    for s, word in enumerate(seq):
        for concept, target in index.get(word, ()):
            n = len(target)
            if tuple(seq[s : s + n]) == target and not any(
                    t.cap and not t.acronym for t in toks[s : s + n]):  # "Dịch Vọng"
                hits.append((s, n, concept))
    # A syllable inside a longer phrase names that phrase's problem only ("hố" in "hố ga").
    long_spans = [(s, s + n, c) for s, n, c in hits if n > 1]
    for s, n, concept in hits:
        if n == 1 and any(a <= s < b and c != concept for a, b, c in long_spans):
            continue
        found[concept] = None
        covered.update(range(s, s + n))
    return sorted(found), covered


#: Single folded syllables that name a problem whatever accents were left out.
_SAFE_FOLDED_SINGLES = {
    "ngap", "ung", "rac", "karaoke", "trom", "cuop", "lun", "bui", "muoi", "nghien", "xay",
    "bhyt", "bhxh", "cccd", "phep", "lut",
}


_BY_FIRST_ACCENTED: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
_BY_FIRST_FOLDED: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
for _concept, _phrase_list in CONCEPTS.items():
    for _phrase in _phrase_list:
        _acc, _fold = tuple(_phrase.split()), tuple(_f(_phrase).split())
        _BY_FIRST_ACCENTED.setdefault(_acc[0], []).append((_concept, _acc))
        if len(_fold) > 1 or _fold[0] in _SAFE_FOLDED_SINGLES:
            _BY_FIRST_FOLDED.setdefault(_fold[0], []).append((_concept, _fold))


def signature(text: str, category: str | None = None, unit_code: str | None = None,
              *, location: str | None = None) -> CaseSignature:
    """The signature of a case's text (and its typed location). ``unit_code`` is accepted for
    the callers' convenience: candidates are always of one unit, so it is not part of it."""
    del unit_code
    # teencode=False: "ng." is ngõ here, not người
    toks = _tokens(normalize(text or "", teencode=False).text)
    if location:  # a boundary no name or place word reads across
        toks += [_BOUNDARY, *_tokens(normalize(location, teencode=False).text, place_line=True)]
    words = [t for t in toks if not t.num and not t.code]
    accented = sum(t.acc != t.fold for t in words) >= max(1, 0.2 * len(words))
    letters = [t for t in toks if not t.num]
    if letters and sum(t.cap for t in letters) > 0.6 * len(letters):  # SHOUTING: no name info
        toks = [_Tok(t.acc, t.fold, False, t.num, t.code, t.acronym) for t in toks]
    concepts, covered = _concepts(toks, accented)
    places, used = _places(toks, accented, covered)
    names: dict[str, None] = {}
    i = 0
    while i < len(toks):
        if i not in used and toks[i].cap:
            name, j = _read_name(toks, i, False)
            if name:
                person = i > 0 and toks[i - 1].fold in _TITLES
                first = toks[i]
                institution = first.acc in _NOT_NAMES_ACCENTED or (
                    first.acc == first.fold and first.fold in _NOT_NAMES)
                if not person and not institution:
                    names[name] = None
                used.update(range(i, j))  # a person's name is neither a place nor a term
                i = j
                continue
        i += 1
    terms: dict[str, float] = {}
    content: list[str | None] = []
    for idx, t in enumerate(toks):
        # Typed with diacritics, a word is a function word only as typed ("hải" is not "hai").
        stop = t.acc in _STOP_ACCENTED if accented and t.acc != t.fold else t.fold in _STOP_FOLDED
        if idx in used or t.num or stop or len(t.fold) < 2 and not t.code:
            content.append(None)
        else:
            content.append(t.fold)
    for idx, w in enumerate(content):
        if w is None:
            continue
        weight = 0.3 if w in _WEAK else 1.0
        terms[w] = terms.get(w, 0.0) + weight
        nxt = content[idx + 1] if idx + 1 < len(content) else None
        if nxt is not None:
            terms[f"{w}_{nxt}"] = terms.get(f"{w}_{nxt}", 0.0) + BIGRAM_WEIGHT
    for w in list(terms):
        terms[w] = 1.0 + math.log(terms[w]) if terms[w] >= 1 else terms[w]
    for c in concepts:
        terms[f"#{c}"] = CONCEPT_WEIGHT
    if len(terms) > MAX_TERMS:
        terms = dict(sorted(terms.items(), key=lambda kv: -kv[1])[:MAX_TERMS])
    norm2 = math.sqrt(sum(v * v for v in terms.values())) or 1.0
    return CaseSignature(
        category=category,
        places=tuple(dict.fromkeys(places)),
        names=tuple(names),
        concepts=tuple(sorted(concepts)),
        terms={k: v / norm2 for k, v in terms.items()},
    )


#: Weight of a problem kind against 1.0 for a word.
CONCEPT_WEIGHT = 2.5
#: Weight of a pair of neighbouring words (a stand-in for a two-syllable word) against 1.0.
BIGRAM_WEIGHT = 1.0
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
#: Share of the problem kinds in common (Jaccard) in the similarity of two placed cases; the
#: rest is the cosine of their words.
CONCEPT_SHARE = 0.6

# --------------------------------------------------------------------------- matching

#: Multipliers of the text similarity by how the places relate.
SHARED_PLACE = 1.0  # an explicit place in common, none in conflict
SHARED_NAME = 0.85  # only a capitalised name in common
NO_PLACES = 0.60  # neither says where
UNRELATED_PLACES = 0.55  # both say where, in words that neither agree nor disagree
ONE_SIDED = 0.60  # only one says where
#: Multiplier when both name problem kinds and they have none in common.
OTHER_PROBLEM = 0.35
#: Multiplier when both give a house number and they differ (same alley, another house) for a
#: problem of the whole street; for any other problem two house numbers are two places.
OTHER_HOUSE = 0.8
AREA_PROBLEMS = frozenset({"flood", "drain", "smell", "water", "power", "light", "road", "mosquito",
                           "dust", "wires", "traffic"})


def place_relation(a: CaseSignature, b: CaseSignature) -> float:
    """How far the places allow a match: 0 when two explicit places of one kind disagree."""
    pa, pb = a.hard_places, b.hard_places
    shared = False
    other_house = False
    for kind in {p.kind for p in pa} & {p.kind for p in pb}:
        xa = [p for p in pa if p.kind == kind]
        xb = [p for p in pb if p.kind == kind]
        if any(p.compatible(q) for p in xa for q in xb):
            shared = True
        elif len({p.value for p in xa}) > 1 or len({q.value for q in xb}) > 1:
            continue  # "từ ngõ 5 đến ngõ 9": a stretch, not one alley to set against another
        elif kind == "house" and set(a.concepts) | set(b.concepts) <= AREA_PROBLEMS:
            other_house = True  # neighbours at two house numbers of one flooded alley
        else:
            return 0.0
    if shared:
        return SHARED_PLACE * (OTHER_HOUSE if other_house else 1.0)
    if _mentions(a, b) or _mentions(b, a):
        return SHARED_PLACE * (OTHER_HOUSE if other_house else 1.0)
    named = [p.value for p in pa if not p.value[:1].isdigit() and " " in p.value]
    if any(_names_compatible(x, q.value) for x in named for q in pb
           if not q.value[:1].isdigit() and " " in q.value):
        return SHARED_NAME  # "phố Ngọc Lâm" and "chợ Ngọc Lâm"
    names = any(_names_compatible(x, y) for x in a.names for y in b.names) or any(
        _names_compatible(x, p.value) for x, p in (*((n, q) for n in a.names for q in pb),
                                                   *((n, q) for n in b.names for q in pa))
        if not p.value[:1].isdigit() and len(x.split()) >= 2)
    if pa and pb:
        return (SHARED_NAME if names else UNRELATED_PLACES) * (OTHER_HOUSE if other_house else 1.0)
    if names:
        return SHARED_NAME
    if not pa and not pb:
        return NO_PLACES
    return ONE_SIDED


def _mentions(a: CaseSignature, b: CaseSignature) -> bool:
    """``b`` names one of ``a``'s named places (two syllables or more) without a place word:
    "tran thai tong truoc truong…" against "phố Trần Thái Tông"."""
    for p in a.hard_places:
        for name in (p.value, p.qualifier):
            words = name.split()
            if len(words) >= 2 and not name[:1].isdigit() and all(
                    f"{x}_{y}" in b.terms for x, y in zip(words, words[1:], strict=False)):
                return True
    return False


def text_similarity(a: CaseSignature, b: CaseSignature, *, words_only: bool = False) -> float:
    """Cosine of the term vectors; ``words_only`` leaves the problem kinds out (two place-less
    cases about "trợ cấp" must share more than the kind: whose allowance, which list)."""
    small, big = (a.terms, b.terms) if len(a.terms) <= len(b.terms) else (b.terms, a.terms)
    if not words_only:
        return sum(v * big.get(k, 0.0) for k, v in small.items())
    dot = sum(v * big.get(k, 0.0) for k, v in small.items() if k[0] != "#")
    norms = a.word_norm * b.word_norm
    return dot / norms if norms else 0.0


def score(a: CaseSignature, b: CaseSignature) -> float:
    """Same issue, 0..1: the text similarity, scaled by :func:`place_relation` and the problems."""
    relation = place_relation(a, b)
    if relation == 0.0:
        return 0.0
    words = text_similarity(a, b, words_only=True)
    if relation in (NO_PLACES, ONE_SIDED) or not (a.concepts and b.concepts):
        return words * relation
    ca, cb = set(a.concepts), set(b.concepts)
    fa = {FAMILIES.get(c, c) for c in ca} | ca
    fb = {FAMILIES.get(c, c) for c in cb} | cb
    family = len(fa & fb) / len(fa | fb)
    if not family:
        return words * OTHER_PROBLEM * relation
    kinds = (len(ca & cb) / len(ca | cb) + family) / 2
    return (CONCEPT_SHARE * kinds + (1 - CONCEPT_SHARE) * words) * relation


def best_match(sig: CaseSignature, candidates: Iterable[tuple[int, CaseSignature]],
               threshold: float = THRESHOLD) -> tuple[int, float] | None:
    """The candidate id with the highest :func:`score` if it reaches ``threshold``."""
    best: tuple[int, float] | None = None
    for case_id, other in candidates:
        s = score(sig, other)
        if s >= threshold and (best is None or s > best[1]):
            best = (case_id, s)
    return best
