"""The moderation check in front of intake: verdict, rate limit, citizen reply, quarantine.

The policy (issue 12) separates what to stop from what to flag:

* **Stopped** (quarantined, never a case): spam and scams (gambling, betting, loan and
  "việc nhẹ lương cao" spam, phishing links), as the rules in ``content/moderation/`` decide,
  with a learned model's second opinion on what they let through
  (:mod:`bot.moderation.opinion`). A citizen *reporting* any of these is a complaint (the rules'
  reporting discount; for the model, any citizen signal). The reply is
  neutral (it never repeats what the filter matched) and says how to reach a person.
* **Never stopped**: a message that carries a complaint, a request or a question, however rude.
  It goes on to become a case marked for staff (``RUDE``: "ngôn từ không phù hợp"); a threat of
  violence is marked ``THREAT``, which the Telegram card and the console show first.
* **Only an insult**, nothing asked or reported: a calm reply, no case, nothing quarantined.

Whether a rude message carries something is judged by :func:`carries_request`, on the words
outside the insult itself: words of a problem or a request, a question, or enough words besides
the swearing. Asking, speaking of oneself or calling the page do not excuse an insult as they
excuse a citizen quoting spam (``abuse_not_excused_by`` in ``content/moderation/settings.yml``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot.knowledge.replies import reply_text
from bot.moderation import SpamRateLimiter, Verdict, load_rules, moderate

if TYPE_CHECKING:
    from bot.moderation.learned import LearnedModel
    from bot.moderation.rules import ModerationRules

logger = logging.getLogger(__name__)

#: Markers a case carries for staff (``Case.moderation_verdict``).
CLEAN, RUDE, THREAT = "clean", "rude", "threat"
#: Vietnamese labels of the markers, for the Telegram card and the console.
MARKER_LABELS = {
    RUDE: "Ngôn từ không phù hợp (nội dung vẫn được tiếp nhận)",
    THREAT: "Có lời đe dọa bạo lực: cần ưu tiên xem xét",
}

#: Folded words that show a rude message is about something: a place or thing that needs
#: fixing, what is wrong with it, or a request. Kept broad on purpose: refusing a genuine
#: complaint costs more than taking an insult as a case. Looked for outside the words of the
#: insult itself (:func:`carries_request`), longest first, so that "công an" is read as one
#: cue rather than "công", which is not one (``_NOT_CUES``).
_CUES = [cue.strip() for cue in (
    "duong, ngo, hem, kiet, ngach, cong, ranh, muong, rac, (?<!nha )nuoc, dien, den duong, loa, "
    "tieng on, on ao, bui, khoi, mui, ngap, hong, tac, sap, do rac, lan chiem, chiem, xe, trom, "
    "cuop, nha(?! nuoc), dat, tien, ho ngheo, danh sach, tro cap, ho tro, cuu tro, ung ho, xu ly, "
    "sua, don dep, giai quyet, phan anh, kien nghi, de nghi, yeu cau, to cao, khieu nai, bao cao, "
    "giup, can bo, phuong, to dan pho, thon, xom, khu pho, ubnd, cong an, may ngay, ca tuan, "
    "ca thang, tu hom, bao gio, bao lau, khi nao, tai sao, vi sao, lam sao, the nao, o dau, "
    "khong ai, chua ai, bao nhieu, phe thai, xa thai, song, kenh, karaoke, hat, nhac, "
    "chiu (?:khong |het )?noi, het chiu, "
    # what is wrong or asked, in words the list above lacks
    "hang xom, thai do, kiem tra, ho so, giay to, thu tuc, can cuoc, cccd, ho khau, tam tru, "
    "khai sinh, bao hiem, hoc phi, benh vien, tram y te, truong hoc, dua xe, ru ga, danh nhau, "
    "say ruou, nhau nhet, chui bay, thu tien, thu phi, chua tra loi, khong tra loi, "
    "khong (?:xuong|den|lam gi|nghe may), ca dem, suot dem, nua dem, tiem chung, tiem phong, "
    "lich (?:tiem|hop|cat|lam viec|truc|thu), giay (?:xac nhan|phep|chung nhan), thit, "
    "thuc pham, ve sinh, o nhiem, hoi thoi, het han, hang gia, danh nguoi, danh dap, hanh hung, "
    "bo chay, tai nan, do xe, chan (?:ngo|loi|duong|cua), vi he, long duong, lua dao, mat cap, "
    "an chan, an bot, hoi lo, tham nhung, cua quyen, hach dich, nhung nhieu, bac si, thuoc men, "
    "cho can, tha rong, vut rac, chet ret, chet doi"
).split(",")]
_REQUEST_CUES = re.compile(
    r"\b(?:" + "|".join(sorted(_CUES, key=len, reverse=True)) + r")\b")
#: Not cues, although they look like some once folded: "chó" (chợ), "đồ" (đổ), "đến" (đèn),
#: "vợ" (vỡ): an insult would otherwise always seem to be about something. Nor are these
#: words, typed with their marks, which fold onto a cue: "cút khỏi đây" (khói), "đồ điên"
#: (điện), "sống" (sông), "nhá" (nhà), "công" (cống), "ngó" (ngõ), "hông" (hỏng), "đạt" (đất),
#: "cho rảnh" (rãnh).
_NOT_CUES = frozenset(
    "khỏi điên sống nhá nhả công cộng dương đương phương ngó ngô hông hồng tác sắp đạt đặt tiến "
    "tiên mũi hạt xế xé sủa rảnh rành".split())
#: Words that, typed with their marks, name a wrong done, a damage or a thing of the place
#: ("chặt", "nứt", "quậy", "cầu", "rừng"): a rude message with one of them tells what happened.
#: Folded, most are everyday words ("chat", "nut", "quay", "cau"), so only the marked form counts.
_MARKED_CUES = frozenset("""
    chặt phá đốt cắp lấy cướp trộm đánh tông vượt xả thả đổ nứt gãy vỡ sập cháy nổ quậy rò rỉ
    tăng bán nợ lừa chiếm lấn hỏng tắc ngập xây đào cấp ép đòi dọa bắt hút chích nghiện tụ
    cầu cột dây tường rừng ruộng ao hồ cây chợ trường lớp quỹ giá sổ pháo túy hàng thuốc
    dịch bệnh sốt trạm gạo quà đèn cống rác ngõ hẻm đường
""".split())
#: "thằng điên nào thả rắn", "đứa mất dạy nào đổ rác": an insult naming whoever did something
#: (the word after "nào" is not an empty word).
_WHOEVER_DID = re.compile(r"\bnao\s+([^\W_]+)")
_WORD = re.compile(r"[^\W_]+")
#: Words that say nothing of what a message is about (folded): who is spoken to or of, "cái",
#: "này", particles, "nói", "biết", "làm", "được". A rant of twenty words made of these and of
#: insults carries nothing; a complaint names a thing, a place, a time or a wrong.
_EMPTY_WORDS = frozenset("""
    tao tau may mi bay tui toi minh no ho chung bon lu dam thang dua con ong ba anh chi em nguoi
    cha me ad admin bot chatbot page fanpage trang ai
    cai do thu loai nay kia day ay nhung cac mot moi ca toan het nhieu
    a ha ho nhe nha nhi oi roi luon qua lam that thiet vay the chu di thoi ma thi la nhu co
    khong ko k chua dung gi nao sao hay ne nua dau
    noi biet duoc dc cung van se da dang moi ra vao len mat doi gap thay gio su thuc
    gioi nhat khoan ngoi hoi tra loi cau hieu chuyen cho nghe
""".split())
#: Words besides the insult, the people it names and empty words from which a message says
#: something, however it says it.
_LONG_ENOUGH_WORDS = 8
#: A sentence that ends as a question does, typed without "?" ("có ai quản lý không",
#: "sửa chưa", "thế à", "lịch tiêm là hôm nào", "nộp ở đâu"), folded.
_QUESTION_END = re.compile(
    r"\b(?:khong|ko|chua|a|ha|nhi|sao|chu|nao|dau|gi)(?=\s*(?:[?.!,;]|$))")


def carries_request(text: str, rules: ModerationRules | None = None) -> bool:
    """Whether a rude message also reports, asks or requests something (see the module
    docstring): then it is never stopped.

    The words of the insult itself (where the ``abuse`` rules match: "lũ cán bộ", "ăn tiền
    thuế của dân", "cả lò nhà mày", "đầu đất") are left out first: "cán bộ", "tiền", "nhà" or
    "đất" inside an insult are not a complaint about officials, money, a house or land. What
    is left carries something when it names a problem or a request (``_REQUEST_CUES``), asks
    ("?" or a question's last word, with some word besides the insult: "có ai quản lý không",
    not "mày có não không") or is long (``_LONG_ENOUGH_WORDS`` words that are not
    ``_EMPTY_WORDS``)."""
    from bot.moderation.engine import category_spans
    from bot.moderation.normalise import normalise

    norm = normalise(text)
    folded = norm.folded
    spans = category_spans(norm, rules if rules is not None else load_rules(), "abuse")
    if spans:
        chars = list(folded)
        for start, end in spans:
            chars[start:end] = " " * (end - start)
        folded = "".join(chars)
    words = [(m.group(), m.start()) for m in _WORD.finditer(folded)]
    rest = " ".join(word for word, _ in words)
    # Where each word of ``rest`` starts in the text view, to read a cue with its marks.
    origin: dict[int, int] = {}
    offset = 0
    for word, start in words:
        origin[offset] = start
        offset += len(word) + 1
    for cue in _REQUEST_CUES.finditer(rest):
        begin = origin.get(cue.start())
        if begin is not None and " " not in cue.group() and \
                norm.text[begin:begin + len(cue.group())] in _NOT_CUES:
            continue
        return True
    if any(norm.text[start:start + len(word)] in _MARKED_CUES for word, start in words) or \
            any(m.group(1) not in _EMPTY_WORDS for m in _WHOEVER_DID.finditer(folded)):
        return True
    meaningful = sum(word not in _EMPTY_WORDS for word, _ in words)
    asks = "?" in text or bool(_QUESTION_END.search(folded))
    return (asks and meaningful > 0) or meaningful >= _LONG_ENOUGH_WORDS


_limiter: SpamRateLimiter | None = None
_lock = threading.Lock()


@dataclass(frozen=True)
class GateVerdict:
    """What intake does with a message: stop it (``flagged``), answer it calmly and keep nothing
    (``insult_only``), or take it, with the ``marker`` staff see on the case."""

    verdict: Verdict
    insult_only: bool = False
    marker: str = CLEAN

    @property
    def flagged(self) -> bool:
        return self.verdict.flagged

    @property
    def citizen_message(self) -> str:
        if self.insult_only:
            return reply_text("moderation_calm")
        if self.verdict.category == "rate_limited":
            return reply_text("moderation_rate_limited")
        return reply_text("moderation_blocked")


def apply_policy(verdict: Verdict, text: str, *, learned: bool = True,
                 model: LearnedModel | None = None,
                 rules: ModerationRules | None = None) -> GateVerdict:
    """Stop spam; never stop a rude message that carries something (mark it); answer an insult
    that carries nothing calmly. Pure: no rate limit, no database.

    With ``learned`` (the default) the learned model gives its second opinion on what is not
    rude (:func:`bot.moderation.opinion.second_opinion`); ``learned=False`` is the rules alone,
    for comparison (``bench/moderation_speed.py``); ``model`` replaces the one trained on the
    training file (cross-validation); ``rules`` are those the verdict came from (default
    :func:`bot.moderation.load_rules`), for :func:`carries_request`."""
    if verdict.category != "abuse":
        if learned:
            from bot.moderation.opinion import second_opinion

            verdict = second_opinion(verdict, text, rules=rules, model=model)
        return GateVerdict(verdict)
    threat = any(rule_id.startswith("abuse.threat") for rule_id in verdict.rule_ids)
    marker = THREAT if threat else RUDE
    taken = Verdict(False, "abuse", verdict.score, verdict.reason, verdict.rule_ids)
    if threat or carries_request(text, rules):
        return GateVerdict(taken, marker=marker)
    if verdict.flagged:
        return GateVerdict(taken, insult_only=True, marker=marker)
    return GateVerdict(taken, marker=marker)


def judge(text: str, rules: ModerationRules | None = None, *, learned: bool = True) -> GateVerdict:
    """What intake would do with ``text``: the rules' verdict, then the policy (no rate limit,
    no database). One call for the evaluations, the corpus check and the tests, which all ask
    exactly this of a message."""
    return apply_policy(moderate(text, rules), text, learned=learned, rules=rules)


def is_bare_insult(text: str, rules: ModerationRules | None = None,
                   verdict: Verdict | None = None) -> bool:
    """Whether ``text`` is only an insult: rude, no threat, and nothing asked or reported.

    The dialogue asks this of every message outside a form (``bot.conversation.insult_policy``):
    the gate above runs only when a case is about to start, so an insult the NLU read as a
    programme question or as nothing it knew got a programme's answer or "please rephrase"
    instead of the calm reply (issue 12: on blind moderation set 20, 45 of 70 bare insults
    never reached the gate). The rules alone decide (no learned model): an insult is the rules'
    call, as in :func:`apply_policy`. ``verdict``: the rules' verdict on ``text`` when the
    caller has it already (:func:`bot.conversation.insult_policy.calm_reply_due` asks both this
    and :func:`is_bare_contempt` of one message)."""
    if not text.strip() or text.startswith("/"):
        return False
    if verdict is None:
        verdict = moderate(text, rules)
    return apply_policy(verdict, text, learned=False, rules=rules).insult_only


def is_bare_contempt(text: str, rules: ModerationRules | None = None,
                     model: LearnedModel | None = None, threshold: float | None = None,
                     verdict: Verdict | None = None) -> bool:
    """Whether ``text`` is contempt that the rules do not see as an insult (no insult word:
    sarcasm, mock praise, "có cũng như không"), asking and reporting nothing.

    The learned test of :mod:`bot.moderation.contempt` must be sure (``threshold``, default
    its ``THRESHOLD``), the rules must neither stop the message as spam nor find a threat, and
    :func:`carries_request` must find nothing asked or reported (a complaint with contempt in it
    is still a complaint), unless the model is all but certain (``SURE_THRESHOLD``: a rhetorical
    "để làm gì?" reads as a question to :func:`carries_request`, and "ăn tiền dân" in an insult
    as a word of money). An insult the rules see also counts here: the rules take it as a case
    when :func:`carries_request` finds a cue in it, and the model may still be all but certain
    that nothing is asked. False while the model trains (``model``: one already fitted, for
    tests and benchmarks; ``verdict``: the rules' verdict on ``text`` if already known)."""
    if not text.strip() or text.startswith("/"):
        return False
    from bot.moderation import contempt

    probability = contempt.contempt_probability(text, model)
    if probability is None or probability < max(threshold or 0.0, contempt.THRESHOLD):
        return False
    if verdict is None:
        verdict = moderate(text, rules)
    spam = verdict.flagged and verdict.category != "abuse"
    if spam or any(rule_id.startswith("abuse.threat") for rule_id in verdict.rule_ids):
        return False
    return probability >= contempt.SURE_THRESHOLD or not carries_request(text, rules)


def _rate_limiter() -> SpamRateLimiter:
    global _limiter
    with _lock:
        if _limiter is None:
            _limiter = SpamRateLimiter.from_rules(load_rules())
        return _limiter


def check_message(channel: str, sender_id: str, text: str) -> GateVerdict:
    """Moderate one message and apply the per-sender rate limit (in-process counts)."""
    from bot.moderation.learned import model_if_ready

    model = model_if_ready()  # None while it trains, seconds after start: the rules alone
    rules = load_rules()
    gate = apply_policy(moderate(text, rules), text, learned=model is not None, model=model,
                        rules=rules)
    if gate.marker != CLEAN:
        return gate  # rudeness is answered or marked, never counted as spam
    return GateVerdict(_rate_limiter().check(f"{channel}:{sender_id}", gate.verdict))


def record_quarantine(channel: str, sender_id: str, text: str, gate: GateVerdict) -> None:
    """Keep the stopped message for staff review; a DB outage is logged, never shown to spam."""
    from bot.cases.inbound import quarantine
    from bot.db.engine import session_scope
    from bot.db.runtime import get_engine

    try:
        with session_scope(get_engine()) as session:
            quarantine(
                session,
                channel=channel,
                channel_user_id=sender_id,
                text=text,
                reason=gate.verdict.reason,
                category=str(gate.verdict.category),
            )
    except SQLAlchemyError as error:
        logger.error("quarantine not recorded (%s): %s", gate.verdict.category, error)


# --------------------------------------------------------------------------- evaluation


def policy_report(path: Path, *, show_mistakes: bool = False,
                  totals: Counter[str] | None = None) -> str:
    """The policy measured on a labelled set (``label<TAB>kind<TAB>text``; labels ``allow``,
    ``insult``, ``stop``), as ``./mttq moderate --eval`` prints it: genuine messages refused
    (target 0), spam and scam recall (target at least 0.95), and what insults got. ``totals``,
    when given, gathers the counts (``allow``, ``refused``, ``stop``, ``stopped``) over several
    sets, for the command's line over all of them.

    The messages it got wrong are listed only with ``show_mistakes`` (for dev sets): a blind
    set's lines must stay unread, or whoever reads them tunes on them without meaning to."""
    import csv

    rules = load_rules()
    total: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    stopped: Counter[str] = Counter()
    insults: Counter[str] = Counter()
    marked = 0
    mistakes: list[str] = []
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            label, kind, text = row["label"], row["kind"], row["text"]
            gate = judge(text, rules)
            total[f"{label}/{kind}"] += 1
            if label == "allow":
                if gate.flagged or gate.insult_only:
                    refused[kind] += 1
                    mistakes.append(f"refused {kind}: {text[:100]}")
                marked += gate.marker != CLEAN
            elif label == "stop":
                if gate.flagged:
                    stopped[kind] += 1
                else:
                    mistakes.append(f"missed {kind}: {text[:100]}")
            else:
                insults["calm reply" if gate.insult_only else
                        "stopped" if gate.flagged else
                        f"taken ({gate.marker})"] += 1
    allow = sum(v for k, v in total.items() if k.startswith("allow/"))
    stop = sum(v for k, v in total.items() if k.startswith("stop/"))
    if totals is not None:
        totals.update(allow=allow, refused=sum(refused.values()), stop=stop,
                      stopped=sum(stopped.values()))
    lines = [f"Moderation policy on {path} ({sum(total.values())} messages)"]
    # A set written in parts may hold no genuine messages or no spam: say so rather than print
    # a ratio over nothing (a "recall 0.000" that reads like a failure).
    if allow:
        lines.append(f"  genuine messages refused: {sum(refused.values())}/{allow} (target 0)")
        for key in sorted(k for k in total if k.startswith("allow/")):
            kind = key.split("/", 1)[1]
            lines.append(f"    {kind:<16} {refused[kind]}/{total[key]} refused")
        lines.append(f"    marked for staff (rude or threat): {marked}")
    else:
        lines.append("  genuine messages refused: none in this set")
    if stop:
        caught = sum(stopped.values())
        lines.append(f"  spam and scam stopped: {caught}/{stop} = recall {caught / stop:.3f} "
                     f"(target >= 0.95)")
    else:
        lines.append("  spam and scam stopped: no spam in this set")
    for key in sorted(k for k in total if k.startswith("stop/")):
        kind = key.split("/", 1)[1]
        lines.append(f"    {kind:<16} {stopped[kind]}/{total[key]}")
    if insults:
        lines.append("  insults only: " + ", ".join(f"{k} {v}" for k, v in sorted(insults.items())))
    if show_mistakes:
        lines += [f"  - {m}" for m in mistakes[:40]]
    return "\n".join(lines)
