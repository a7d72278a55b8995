"""Reading what residents write in plain words: greetings, and "is this the same problem?".

Greetings. A message made only of greeting words (你好, 在吗, 谢谢, hi, thanks ...) and
punctuation is small talk: it gets a friendly answer, never a report offer.

The same problem ("me too", 我也遇到). Before a resident's report is filed it is compared
with the open reports of the same building (the building and the grids under it) filed in
the last 7 days. Each text becomes a set of key pieces: every pair of neighbouring Chinese
characters (a character bigram: 「电梯坏了」 → 电梯, 梯坏, 坏了) and every Latin word of 3 or
more letters, leaving out pairs with a filler character (了, 的, 吗, 我 ...). Two reports
match when
  - they have the same category (not 其他) and share at least one key piece, or
  - they share at least half of the key pieces of the shorter text, whatever the category.
The best match (most shared pieces, then the newest) is shown; a voice without words is
never compared (there is nothing to compare).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from storage.reports import Report

SAME_PROBLEM_WINDOW = timedelta(days=7)
VOICE_TEXT = "（语音）"  # a voice report's text until someone adds words

_GREETINGS = frozenset("""
你好 您好 你好呀 你好啊 您好呀 大家好 哈喽 哈啰 嗨 喂 在吗 在不在 在么 有人吗 有人在吗
早 早上好 早安 上午好 中午好 下午好 晚上好 晚安 谢谢 谢谢你 谢谢您 多谢 感谢 谢啦 谢了
辛苦了 辛苦 好的 好 嗯 嗯嗯 哦 收到 明白 知道了 ok okay 再见 拜拜 bye hi hello hey
thanks thank you thankyou thx good morning good evening
""".split()) | {"thank you", "good morning", "good evening", "good afternoon"}
_THANKS = frozenset("谢谢 谢谢你 谢谢您 多谢 感谢 谢啦 谢了 辛苦了 辛苦 thanks thankyou thx".split()
                    ) | {"thank you"}
_SPLIT = re.compile(r"[\s,.!?;:~，。！？、；：～…·'\"“”‘’()（）\[\]【】]+")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d]+")
_HAN = re.compile(r"[\u4e00-\u9fff]+")
_LATIN = re.compile(r"[a-z]{3,}")
_FILLER = frozenset("了的吗呢啊吧呀哦嘛么是在我你他她它们这那个有也都很还就和与及又被把给让")


def greeting(text: str | None) -> str | None:
    """"thanks" or "hello" when the message is only small talk; else None."""
    lowered = _EMOJI.sub(" ", (text or "").lower())
    if len(lowered) > 40:
        return None
    parts = [p for p in _SPLIT.split(lowered) if p]
    joined = " ".join(parts)
    if not parts or not (joined in _GREETINGS or all(p in _GREETINGS for p in parts)):
        return None
    return "thanks" if joined in _THANKS or any(p in _THANKS for p in parts) else "hello"


def key_pieces(text: str) -> set[str]:
    lowered = text.lower().replace(VOICE_TEXT, " ")
    pieces = {run[i:i + 2] for run in _HAN.findall(lowered) for i in range(len(run) - 1)}
    pieces = {p for p in pieces if not (set(p) & _FILLER)}
    return pieces | set(_LATIN.findall(lowered))


def words_of(report: Report) -> str:
    """What a report says, as far as comparing goes: its text, else its transcript."""
    text = report.text.replace(VOICE_TEXT, "").strip()
    return " ".join(filter(None, [text, report.transcript or ""]))


@dataclass(frozen=True, slots=True)
class Match:
    report: Report
    shared: int


def same_problem(category: str, text: str, candidates: Iterable[Report]) -> Match | None:
    """The open report that most likely is the same problem (rule in the module's doc)."""
    mine = key_pieces(text)
    if not mine:
        return None
    best: Match | None = None
    for report in candidates:
        theirs = key_pieces(words_of(report))
        shared = len(mine & theirs)
        if not theirs or not shared:
            continue
        same_kind = category == report.category and category != "other"
        if not (same_kind or shared * 2 >= min(len(mine), len(theirs))):
            continue
        if best is None or (shared, report.id) > (best.shared, best.report.id):
            best = Match(report, shared)
    return best
