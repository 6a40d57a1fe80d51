"""Issue 12: the learned second opinion and how it is combined with the rules
(:mod:`bot.moderation.opinion`). Each decision path is tested twice: with a model whose answer
is fixed (the path itself), and with the model trained on ``content/moderation/training.tsv``
on phrases that are not in it (what it does with text it never saw)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.moderation import load_rules, moderate
from bot.moderation.engine import Verdict, report_hits
from bot.moderation.evaluate import read_labelled
from bot.moderation.gate import CLEAN, RUDE, apply_policy
from bot.moderation.learned import (
    STOP_KINDS,
    features,
    learned_model,
    model_if_ready,
    read_training,
    training_lines,
)
from bot.moderation.normalise import NormalisedText, normalise
from bot.moderation.opinion import (
    ADVERT_STOP_PROBABILITY,
    CONFIDENT_RELEASE_PROBABILITY,
    CONTEXT_ONLY,
    NEAR_THRESHOLD_SCORE,
    OWN_WORDS_PROBABILITY,
    RELEASE_BOUNDS,
    RELEASE_PROBABILITY,
    SIGNAL_KINDS,
    STOP_PROBABILITY,
    release_bound,
    second_opinion,
    spam_probability,
)

HOLDOUT = Path(__file__).resolve().parents[1] / "data" / "moderation" / "holdout.tsv"


class FixedModel:
    """A model that answers ``probability`` whatever it reads, and remembers what it read."""

    def __init__(self, probability: float, kind: str = "loan") -> None:
        self.answer = probability
        self.answer_kind = kind
        self.read: list[str] = []

    def probability(self, norm: NormalisedText) -> float:
        self.read.append(norm.compact)
        return self.answer

    def kind(self, norm: NormalisedText) -> str:
        return self.answer_kind


def opinion(text: str, model: FixedModel) -> Verdict:
    return second_opinion(moderate(text), text, model=model)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the paths


PASSED_BY_RULES = "Nhận hồ sơ nhanh gọn trong ngày cho anh chị ở xa, phí trọn gói"


def test_the_phrase_used_below_passes_the_rules() -> None:
    assert not moderate(PASSED_BY_RULES).flagged


def test_the_model_stops_what_the_rules_passed_when_it_is_sure() -> None:
    verdict = opinion(PASSED_BY_RULES, FixedModel(0.97, "job_scam"))
    assert verdict.flagged and verdict.category == "earn_money_spam"
    assert verdict.rule_ids[-1] == "learned.job_scam"
    assert "Mô hình học máy" in verdict.reason and len(verdict.reason) <= 255


def test_below_the_threshold_the_rules_verdict_stands() -> None:
    verdict = opinion(PASSED_BY_RULES, FixedModel(STOP_PROBABILITY - 0.01))
    assert not verdict.flagged


@pytest.mark.parametrize("text", [
    "Ad ơi có bên nhắn tin mời nhận hồ sơ nhanh gọn trong ngày, phí trọn gói, xóa giúp em",
    "Cho hỏi dịch vụ làm hồ sơ nhanh gọn trong ngày phí trọn gói có phải lừa đảo không",
    "Mẹ tôi bị lừa đóng phí trọn gói để làm hồ sơ nhanh gọn trong ngày",
])
def test_a_citizen_signal_overrides_the_model(text: str) -> None:
    assert not opinion(text, FixedModel(0.99)).flagged


@pytest.mark.parametrize("text", [
    "Nhận hồ sơ nhanh gọn trong ngày mà không báo trước phí trọn gói, thu thêm 200k",
    "Dịch vụ nhận hồ sơ nhanh gọn phí trọn gói, đến giờ vẫn chưa trả kết quả cho tôi",
    # Stop 44, round 5: a service left undone for days; a fee paid for a poor service.
    "dich vu nhan ho so nhanh gon phi tron goi, nop 5 hom khong ai xu ly",
    "Phí trọn gói hồ sơ nhanh gọn 1tr2 mà làm sai tên con tôi hai lần",
])
def test_a_grievance_overrides_the_model(text: str) -> None:
    assert not opinion(text, FixedModel(0.99)).flagged


def test_a_scene_setting_word_alone_does_not_override_the_model() -> None:
    # "tôi" (report.first_person) is in adverts too: "tôi là nhân viên ngân hàng".
    text = "Tôi nhận hồ sơ nhanh gọn trong ngày cho anh chị ở xa, phí trọn gói"
    signals = {h.rule.id for h in report_hits(normalise(text), load_rules())}
    assert signals == {"report.first_person"}
    assert opinion(text, FixedModel(0.99)).flagged


def test_a_short_message_is_left_to_the_rules() -> None:
    assert not opinion("phí trọn gói 2024", FixedModel(1.0)).flagged


def test_rudeness_is_never_asked_of_the_model() -> None:
    text = "vcl cái cống ngõ 8 tắc cả tuần, bọn phường làm gì vậy"
    model = FixedModel(1.0)
    assert opinion(text, model) == moderate(text) and model.read == []
    gate = apply_policy(moderate(text), text, model=model)  # type: ignore[arg-type]
    assert not gate.flagged and not gate.insult_only and gate.marker == RUDE


def test_quotations_are_left_out_of_what_the_model_reads() -> None:
    model = FixedModel(0.0)
    opinion('Ad ơi nhóm khu phố có người đăng "nạp đầu tặng thêm, rút về ví" mấy hôm nay', model)
    assert model.read and "nap dau" not in model.read[0] and "khu pho" in model.read[0]


STOPPED_BY_RULES_WITH_A_CITIZEN = (
    "Tôi nhận được tin nhắn vay tiền nhanh không thế chấp chỉ cần CCCD, lh 0912345678")


def test_the_phrase_used_below_is_stopped_by_the_rules_with_a_citizen_signal() -> None:
    verdict = moderate(STOPPED_BY_RULES_WITH_A_CITIZEN)
    assert verdict.flagged and "report.received" in verdict.rule_ids


def test_the_model_releases_a_rules_stop_only_with_a_citizen_signal_and_a_low_probability(
) -> None:
    released = opinion(STOPPED_BY_RULES_WITH_A_CITIZEN, FixedModel(RELEASE_PROBABILITY - 0.01))
    assert not released.flagged and "người dân" in released.reason
    assert opinion(STOPPED_BY_RULES_WITH_A_CITIZEN, FixedModel(RELEASE_PROBABILITY)).flagged


def test_without_a_citizen_signal_a_clear_rules_stop_stands_whatever_the_model_says() -> None:
    text = "vay tien nhanh khong the chap, chi can cccd, giai ngan 10 phut, lh 0912345678"
    verdict = moderate(text)
    assert verdict.flagged and verdict.score > NEAR_THRESHOLD_SCORE
    assert opinion(text, FixedModel(0.0)).flagged


#: A loan advert pasted after "chị em cẩn thận" (warns) and "có ai bị chưa" (asks others): two
#: kinds of citizen signal; the same advert with "chị em ơi cẩn thận, đừng ai bấm" has two rules
#: of one kind (warns). The words come first: at the end, "có ai bị chưa" is a tail after a
#: pasted advert (``report.tail_reaction``), which the rules alone take as a report.
STOPPED_WITH_TWO_KINDS = ("Chị em cẩn thận, có ai bị chưa. Vay tiền nhanh không thế chấp chỉ cần "
                          "CCCD, giải ngân 10 phút, lh 0912345678")
STOPPED_WITH_ONE_KIND_TWICE = ("Vay tiền nhanh không thế chấp chỉ cần CCCD, giải ngân 10 phút, lh "
                               "0912345678. Chị em ơi cẩn thận, đừng ai bấm")


def test_the_phrases_used_below_are_stopped_by_the_rules_with_their_signals() -> None:
    two = moderate(STOPPED_WITH_TWO_KINDS)
    assert two.flagged
    assert {"report.warns_neighbours", "report.asks_neighbours"} <= set(two.rule_ids)
    once = moderate(STOPPED_WITH_ONE_KIND_TWICE)
    assert once.flagged
    assert {"report.warns_neighbours", "report.warning_others"} <= set(once.rule_ids)


def test_two_kinds_of_citizen_signal_raise_the_release_bound() -> None:
    high = dict(RELEASE_BOUNDS)[2]
    assert high > RELEASE_PROBABILITY
    assert not opinion(STOPPED_WITH_TWO_KINDS, FixedModel(high - 0.01)).flagged
    assert opinion(STOPPED_WITH_TWO_KINDS, FixedModel(high)).flagged
    # Two rules that say the same thing count once: the ordinary bound.
    assert opinion(STOPPED_WITH_ONE_KIND_TWICE, FixedModel(RELEASE_PROBABILITY)).flagged
    assert not opinion(STOPPED_WITH_ONE_KIND_TWICE, FixedModel(RELEASE_PROBABILITY - 0.01)).flagged


class WordModel(FixedModel):
    """A model that reads spam (0.99) in any text holding ``word`` (folded), ``elsewhere``
    in the rest."""

    def __init__(self, word: str, elsewhere: float = 0.0) -> None:
        super().__init__(elsewhere)
        self.word = word

    def probability(self, norm: NormalisedText) -> float:
        self.read.append(norm.compact)
        return 0.99 if self.word in norm.folded else self.answer


#: The same loan advert after "Mọi người cẩn thận." (a clause of the writer's own) and with the
#: same words run into the advert's own sentence. The advert is long enough for the rules to stop
#: it even beside a citizen's words (``reported_factor``): only then is the model asked.
PASTED_AFTER_OWN_WORDS = ("Mọi người cẩn thận. Vay tiền nhanh không thế chấp chỉ cần CCCD, nợ xấu "
                          "vẫn duyệt, lãi thấp, giải ngân 10 phút, lh 0912345678")
OWN_WORDS_INSIDE_THE_ADVERT = ("Mọi người cẩn thận vay tiền nhanh không thế chấp chỉ cần CCCD, "
                               "nợ xấu vẫn duyệt, lãi thấp, giải ngân 10 phút, lh 0912345678")


def test_a_scam_pasted_after_a_clause_of_the_writers_own_is_released() -> None:
    assert moderate(PASTED_AFTER_OWN_WORDS).flagged
    released = opinion(PASTED_AFTER_OWN_WORDS, WordModel("vay"))
    assert not released.flagged and "mọi người cẩn thận" in released.reason
    # The model reads the whole message (0.99), then the writer's own words alone.
    assert opinion(PASTED_AFTER_OWN_WORDS, WordModel("vay", OWN_WORDS_PROBABILITY)).flagged


def test_signal_words_inside_the_adverts_own_sentence_are_not_own_words() -> None:
    assert moderate(OWN_WORDS_INSIDE_THE_ADVERT).flagged
    assert opinion(OWN_WORDS_INSIDE_THE_ADVERT, WordModel("vay")).flagged


def test_release_bound_counts_kinds_not_rules() -> None:
    assert release_bound([]) == 0.0
    assert release_bound(["report.question", "report.is_it_real"]) == RELEASE_PROBABILITY
    assert release_bound(["report.question", "«bức xúc»"]) == dict(RELEASE_BOUNDS)[2]


def test_every_citizen_signal_has_a_kind() -> None:
    """A new ``report`` rule must say what kind of signal it is, or it would count as a kind of
    its own and raise the release bound on the same words as another."""
    citizen = {r.id for r in load_rules().rules
               if r.category == "report" and r.id not in CONTEXT_ONLY}
    assert citizen == set(SIGNAL_KINDS)


JUST_STOPPED_BY_ONE_RULE = "Nhận làm sim chính chủ đứng tên người khác, ib"


def test_the_phrase_used_below_is_just_stopped_without_a_citizen_signal() -> None:
    verdict = moderate(JUST_STOPPED_BY_ONE_RULE)
    assert verdict.flagged and verdict.score <= NEAR_THRESHOLD_SCORE
    assert not [r for r in verdict.rule_ids if r.startswith("report.")]


def test_a_near_threshold_stop_without_a_signal_is_released_only_when_the_model_is_sure(
) -> None:
    released = opinion(JUST_STOPPED_BY_ONE_RULE, FixedModel(CONFIDENT_RELEASE_PROBABILITY - 0.01))
    assert not released.flagged and "vừa chạm ngưỡng" in released.reason
    assert opinion(JUST_STOPPED_BY_ONE_RULE, FixedModel(CONFIDENT_RELEASE_PROBABILITY)).flagged
    # The citizen-signal bound does not apply without a signal.
    assert opinion(JUST_STOPPED_BY_ONE_RULE, FixedModel(RELEASE_PROBABILITY - 0.01)).flagged


def test_rules_only_is_the_rules_verdict() -> None:
    gate = apply_policy(moderate(PASSED_BY_RULES), PASSED_BY_RULES, learned=False,
                        model=FixedModel(1.0))  # type: ignore[arg-type]
    assert not gate.flagged and gate.marker == CLEAN


# --------------------------------------------------------------------------- the model


def test_the_fast_score_is_what_scikit_learn_computes() -> None:
    model = learned_model()
    for text in ("Vay tiền nhanh, giải ngân 5 phút", "Cho hỏi đổi thẻ BHYT ở đâu",
                 "c.a.s.i.n.o tặng 100k", "đường ngập vl"):
        norm = normalise(text)
        expected = model.binary.predict_proba(model.vectorizer.transform([norm]))[0, 1]
        assert model.probability(norm) == pytest.approx(expected, abs=1e-9)
        assert model.kind(norm) == model.kinds.predict(model.vectorizer.transform([norm]))[0]


def test_features_read_digits_as_zero_pair_the_words_and_keep_the_diacritics() -> None:
    found = features(normalise("vay 500k nhanh"))
    assert "w:500k" in found and "b:vay 500k" in found and "c:000k " in found
    assert not any(f.startswith("t:") for f in found)
    assert "t:tài" in features(normalise("Tài khoản")) and "t:tải" in features(normalise("tải"))


def test_the_background_model_is_the_trained_one_once_ready() -> None:
    learned_model()
    assert model_if_ready() is learned_model()


# Phrases written for this test, not in the training file (checked below): spam the rules
# let through that the model stops, with nothing of a citizen in it.
MUST_STOP = [
    "Quý khách có đơn hàng giao không thành công, cập nhật lại địa chỉ và thanh toán phí giao "
    "lại 15k",
    "Dịch vụ hỗ trợ mở khóa tài khoản ngân hàng bị đóng băng, nhận làm nhanh, phí hợp lý",
    "Bán tài khoản mạng xã hội lâu năm, nhiều bạn bè, giá rẻ, giao ngay",
]

# Genuine messages that share the spam's words: angry complaints, citizens reporting or quoting
# spam, questions about the same services, formal text.
MUST_NOT_STOP = [
    "vl cái app vay của ngân hàng chính sách đăng ký mãi không được, cán bộ hướng dẫn lại giúp",
    "Đm mấy đứa phát tờ rơi vay tiền nhanh dán kín cột điện ngõ 14, phường bóc đi giùm",
    "Mẹ tôi nhận tin nhắn bảo đơn hàng giao không thành công, phải trả phí giao lại, có phải "
    "lừa không ạ",
    "Em thấy trên nhóm có người rao bán tài khoản mạng xã hội lâu năm, có vi phạm pháp luật "
    "không",
    "Hàng xóm tôi đầu tư tiền ảo mất sạch, giờ bị đòi nợ ầm ĩ, đề nghị công an vào cuộc",
    "Cho hỏi thủ tục vay vốn ưu đãi cho hộ cận nghèo làm chăn nuôi",
    "Quán net đầu ngõ cho trẻ con chơi game bài đến nửa đêm, như cc, ai quản lý vậy",
    "Thành phố công bố danh sách doanh nghiệp được vay vốn ưu đãi để phục hồi sản xuất",
]


#: Stop 49: an advert dressed as a warning that tells the reader where the genuine site is, with
#: none of a gambling family's words the rules know, and a citizen's warning in the same words.
SELLER_WARNING = ("Cảnh giác nha anh em: web game giả mạo nhiều lắm, chỉ nạp tại trang chính chủ"
                  " LucVip thôi, rút nhanh uy tín. Link chính thức: lucvip·club")
CITIZEN_WARNING = ("Cảnh giác nha anh em: web game giả mạo nhiều lắm, có người mất cả chục triệu"
                   " rồi, đừng ai nạp tiền vào mấy trang đó")


def test_the_rules_alone_let_the_warning_naming_the_genuine_site_through() -> None:
    assert not moderate(SELLER_WARNING, load_rules()).flagged


#: Stop 49, round 2: a testimonial that gathers readers in, and a neighbour's story of someone
#: wronged in the same words; an advert's warning the rules stop, which names where to borrow.
TESTIMONIAL = ("Chị hàng xóm giới thiệu em vào sàn vàng của anh Tú, 2 tháng tài khoản từ 30 triệu"
               " lên 90 triệu, mọi người muốn tham gia thì cmt \"Tham gia\" nhé")
NEIGHBOUR_WRONGED = ("Chị hàng xóm em bị lừa vào sàn vàng, mất 90 triệu rồi, mọi người muốn biết"
                     " thêm thì cmt em kể cho")
LENDERS_WARNING = ("CẢNH BÁO: nhiều app vay lừa đảo lắm! Hãy vay tại công ty tài chính uy tín được"
                   " cấp phép như Tín Phát 🏦 lãi 0% tháng đầu, giải ngân 10 phút")


@pytest.mark.parametrize(("advert", "citizen"), [
    (SELLER_WARNING, CITIZEN_WARNING),  # a warning that names the genuine site
    (TESTIMONIAL, NEIGHBOUR_WRONGED),  # a testimonial that gathers readers in
])
def test_an_advert_in_a_citizens_words_is_stopped_and_its_citizen_twin_taken(
        advert: str, citizen: str) -> None:
    rules = load_rules()
    assert apply_policy(moderate(advert, rules), advert).flagged
    gate = apply_policy(moderate(citizen, rules), citizen)
    assert not gate.flagged and not gate.insult_only


def test_a_rules_stop_of_a_warning_naming_where_to_go_is_not_released() -> None:
    rules = load_rules()
    verdict = moderate(LENDERS_WARNING, rules)
    assert verdict.flagged
    assert apply_policy(verdict, LENDERS_WARNING).flagged


def test_the_test_phrases_are_not_training_lines() -> None:
    known = {line.text for line in training_lines()}
    assert not known & set(MUST_STOP + MUST_NOT_STOP + [SELLER_WARNING, CITIZEN_WARNING, TESTIMONIAL,
                                                        NEIGHBOUR_WRONGED, LENDERS_WARNING])


@pytest.mark.parametrize("text", MUST_STOP)
def test_spam_the_rules_miss_is_stopped_by_the_model(text: str) -> None:
    gate = apply_policy(moderate(text, load_rules()), text)
    assert gate.flagged, (text, spam_probability(text))
    assert any(r.startswith("learned.") for r in gate.verdict.rule_ids) or \
        moderate(text).flagged


@pytest.mark.parametrize("text", MUST_NOT_STOP)
def test_a_genuine_message_with_spam_words_is_not_stopped(text: str) -> None:
    gate = apply_policy(moderate(text, load_rules()), text)
    assert not gate.flagged and not gate.insult_only, (text, gate.verdict.reason)


# --------------------------------------------------------------------------- the data


def test_the_training_file_covers_every_kind_of_spam_and_of_genuine_message() -> None:
    lines = read_training()
    kinds = Counter(line.kind for line in lines if line.label == "stop")
    assert set(kinds) == set(STOP_KINDS) and min(kinds.values()) >= 40, kinds
    genuine = Counter(line.kind for line in lines if line.label == "allow")
    for kind in ("complaint", "report_spam", "ordinary", "insult"):
        assert genuine[kind] >= 30, genuine


def test_the_dev_holdout_stays_out_of_training() -> None:
    known = {line.text for line in training_lines()}
    assert not known & {text for _, text in read_labelled(HOLDOUT)}


def test_the_training_file_holds_no_line_of_a_blind_set() -> None:
    """The blind sets measure the model: a line of one in training would be learned by heart.
    Compared folded (lower case, no diacritics, words only), so an unaccented copy is caught."""
    import csv
    import re
    import unicodedata

    def folded(text: str) -> str:
        text = unicodedata.normalize("NFD", text.casefold()).replace("đ", "d")
        return " ".join(re.findall(r"\w+", "".join(
            c for c in text if unicodedata.category(c) != "Mn")))

    blind: set[str] = set()
    for path in (HOLDOUT.parents[1] / "moderation_blind").glob("*.tsv"):
        with path.open(encoding="utf-8", newline="") as handle:
            blind |= {folded(str(row.get("text") or ""))
                      for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)}
    assert len(blind) > 5000
    assert not [line.text for line in read_training() if folded(line.text) in blind]


# Stop 45: a scam whose only "citizen" words are its own ("nghi ngờ giả mạo"), with a link, read
# as all but certain spam (opinion.SURE_ADVERT); citizens using the same words are not.
SCAM_IN_WARNING_WORDS = ("[Zalo] Tài khoản của bạn sẽ bị khóa do nghi ngờ giả mạo danh tính. Xác"
                         " minh ngay tại zalo-xacminh24.com trước 20h hôm nay")


# Stop 47: an advert whose only "citizen" words say that something goes round ("hàng loạt"), read
# as all but certain spam (opinion.SURE_OVER_ADVERT_VOICE); a citizen telling of a lender at the
# door, who also names it and tells others to report it, is not.
ADVERT_IN_SEEN_WORDS = ("Dịch vụ gửi tin nhắn hàng loạt cho shop online, 10.000 tin chỉ 199k, kéo"
                        " khách Zalo tự động, liên hệ zalo 0912 345 678")
CITIZEN_TELLING_OF_A_LENDER = ("Hôm qua có người đến tận nhà cho vay góp ngày, lãi cắt cổ, ai bị"
                               " thì báo công an phường nhé")


@pytest.mark.parametrize(("text", "bound", "kind"), [
    (SCAM_IN_WARNING_WORDS, "SURE_ADVERT", "scam_phishing"),
    (ADVERT_IN_SEEN_WORDS, "SURE_OVER_ADVERT_VOICE", "mass_ad"),
])
def test_signals_adverts_also_use_do_not_veto_a_sure_stop(text: str, bound: str,
                                                          kind: str) -> None:
    from bot.moderation import opinion

    assert not moderate(text).flagged
    assert spam_probability(text) >= getattr(opinion, bound)
    gate = apply_policy(moderate(text, load_rules()), text)
    assert gate.flagged and f"learned.{kind}" in gate.verdict.rule_ids, gate.verdict.reason


@pytest.mark.parametrize("text", [
    "Mọi người cẩn thận, tin nhắn kiểu tài khoản bị khóa do nghi ngờ giả mạo, bắt xác minh tại"
    " zalo-xacminh24.com là lừa đảo",
    "Tài khoản Zalo của mẹ tôi bị khóa do nghi ngờ giả mạo, bấm vào link zalo-xacminh24.com xong"
    " mất luôn nick, giờ phải làm sao",
    'Có tin "Tài khoản của bạn sẽ bị khóa do nghi ngờ giả mạo danh tính, xác minh ngay tại'
    ' zalo-xacminh24.com" gửi vào nhóm tổ dân phố, ad xem giúp',
    CITIZEN_TELLING_OF_A_LENDER,
])
def test_citizens_using_the_scams_words_are_taken(text: str) -> None:
    gate = apply_policy(moderate(text, load_rules()), text)
    assert not gate.flagged and not gate.insult_only, gate.verdict.reason


@pytest.mark.parametrize(("signals", "probability", "vetoed"), [
    (["report.recurring_spam"], 0.99, False),              # "hàng loạt", all but sure: stop
    (["report.encountered", "report.describes_ad"], 0.98, False),
    (["report.recurring_spam"], 0.95, True),               # not sure enough: the citizen's way
    (["report.recurring_spam", "report.asks_page_to_act"], 0.99, True),  # asks the page to act
    (["report.recurring_spam", "«buc xuc»"], 0.99, True),  # a grievance is never an advert's
    (["report.third_party"], 0.99, True),                  # "con tôi": a family member wronged
    (["report.reporting"], 0.99, True),
    (["report.addressing"], 0.99, False),                  # "bà con ơi": a pitch opens so too
    (["report.addressing"], 0.95, True),
    (["report.addressing", "report.reporting"], 0.99, True),
])
def test_which_signals_veto_the_models_stop(signals: list[str], probability: float,
                                            vetoed: bool) -> None:
    from bot.moderation.opinion import _only_advert_voice

    assert _only_advert_voice(signals, probability) is not vetoed


# Stop 48: an advert the rules find nothing in, with a phone number and a dozen words, is stopped
# from the lower bound (opinion.ADVERT_STOP_PROBABILITY), as one with a rule's offer words is; a
# citizen's name and number, or an advert quoted by a citizen, is no such mark.
WAREHOUSE_AD = ("Cho thuê kho xưởng 300m2 mặt đường tỉnh lộ, điện ba pha, xe container vào được,"
                " giá thương lượng, gọi anh Phúc 0938 471 205")


def test_a_phone_number_lowers_the_bound_when_the_rules_found_nothing() -> None:
    assert WAREHOUSE_AD not in {line.text for line in training_lines()}
    assert not moderate(WAREHOUSE_AD).rule_ids
    assert ADVERT_STOP_PROBABILITY <= spam_probability(WAREHOUSE_AD) < STOP_PROBABILITY
    gate = apply_policy(moderate(WAREHOUSE_AD, load_rules()), WAREHOUSE_AD)
    assert gate.flagged and "learned.mass_ad" in gate.verdict.rule_ids, gate.verdict.reason


@pytest.mark.parametrize(("text", "marked"), [
    (WAREHOUSE_AD, True),
    ("Phạm Quốc Huy, sđt 0938 115 742", False),  # under opinion.MARK_MIN_WORDS words
    ('Nhóm xóm tôi có tin "nhận thưởng 500k, bấm link nhận ngay" gửi liên tục, hàng xóm hỏi có'
     ' thật không', False),  # the marks are inside the quotation: a citizen passing it on
])
def test_what_counts_as_a_way_to_answer_when_the_rules_found_nothing(text: str,
                                                                      marked: bool) -> None:
    from bot.moderation.opinion import _has_advert_mark

    rules = load_rules()
    verdict = moderate(text, rules)
    assert not verdict.rule_ids
    assert _has_advert_mark(verdict, normalise(text), rules) is marked


# Stop 48: words of someone wronged (opinion.GRIEVANCE) release a near-threshold stop the model
# does not believe: "bực mình quá", "mà tôi cập nhật rồi" (done what was asked, still wronged).
@pytest.mark.parametrize("text", [
    "Nhà mạng khóa 2 chiều sim vì chưa chuẩn hóa thông tin thuê bao mà tui làm rồi, giờ không"
    " nhận được OTP ngân hàng, bực mình quá",
])
def test_a_wronged_citizen_with_a_scams_words_is_taken(text: str) -> None:
    from bot.moderation.opinion import GRIEVANCE

    assert GRIEVANCE.search(normalise(text).folded)
    assert moderate(text).flagged  # the rules alone would stop it
    gate = apply_policy(moderate(text, load_rules()), text)
    assert not gate.flagged and not gate.insult_only, gate.verdict.reason
