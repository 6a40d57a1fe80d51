"""Questions about the Front in general, which no programme answers alone (stop 48).

Kept apart from :mod:`bot.nlu.programme`, whose classifier must rank one programme for every
message and was sure of one for "hỏi về chương trình" (the greeting's own button, typed out) or
"mặt trận có những chương trình gì": the assistant then answered one programme at random. The
classifier asks :func:`is_general_question` before it adds its guess, so such a question gets
the menu of programmes.
"""

from __future__ import annotations

import re

from bot.vietnamese.normalize import fold_expanded

__all__ = ["is_general_question"]

#: Words of a question about the Front in general (folded): who it is, what it does, its
#: programmes as a whole ("hỏi về chương trình", "mặt trận làm những gì", "chức năng của mặt
#: trận"). A message of these words only names no programme and describes no need.
_GENERAL_WORDS = frozenset("""
    mat tran mttq to quoc viet nam uy ban ubmttq chuong trinh hoat dong phong trao cuoc van dong
    cong tac ban nhiem vu chuc nang vai tro y nghia muc dich lam gi j z nhung cac co la hoi ve
    cho toi em minh tui chau xin muon can biet tim hieu thong tin nao vay a nhe nha di khong ko k
    hien nay sap toi dang duoc cua phuong xa o day de to chuc chi gioi thieu tong quan ra sao
    the nao nhu the nao gom lo viec nhieu hay gan toi
    """.split())


def is_general_question(text: str) -> bool:
    """Whether ``text`` asks about the Front or its programmes in general: every word is one of
    :data:`_GENERAL_WORDS` (folded, teencode expanded)."""
    words = re.findall(r"[^\W_]+", fold_expanded(text))
    return bool(words) and all(word in _GENERAL_WORDS for word in words)
