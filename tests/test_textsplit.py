"""Long messages are split into valid parts under Telegram's limit."""

from __future__ import annotations

import re

import pytest

from bot.core.textsplit import TELEGRAM_LIMIT, split_html


def _balanced(part: str) -> bool:
    stack = []
    for closing, name in re.findall(r"<(/?)([a-z-]+)[^>]*>", part):
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


def test_short_text_is_one_part() -> None:
    assert split_html("你好") == ["你好"]


def test_lines_are_kept_whole_and_tags_balanced() -> None:
    text = "<b>标题</b>\n" + "\n".join(f"第{i}行 <i>居民 &amp; 楼栋</i>" for i in range(600))
    parts = split_html(text)
    assert len(parts) > 1
    assert all(len(p) <= TELEGRAM_LIMIT for p in parts)
    assert all(_balanced(p) for p in parts)
    assert "".join(parts).count("居民") == 600


def test_one_huge_line_inside_a_tag() -> None:
    text = "<b>" + "邻" * 10_000 + "</b>"
    parts = split_html(text)
    assert len(parts) >= 3
    assert all(len(p) <= TELEGRAM_LIMIT and _balanced(p) for p in parts)
    assert sum(p.count("邻") for p in parts) == 10_000


def test_entities_are_not_cut() -> None:
    text = "&amp;" * 2000
    parts = split_html(text)
    assert all(re.fullmatch(r"(&amp;)+", p) for p in parts)


pytestmark = pytest.mark.no_storage
