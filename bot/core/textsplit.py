"""Split HTML text into parts Telegram accepts (4096 characters each).

Cuts prefer line breaks, never fall inside a tag or an entity (``&amp;``), and
tags open at a cut are closed before it and reopened after it, so every part
is valid HTML on its own.
"""

from __future__ import annotations

import re

TELEGRAM_LIMIT = 4096
_TAG = re.compile(r"<(/?)([a-zA-Z-]+)([^>]*)>")


def _length(text: str) -> int:
    """Telegram counts UTF-16 code units; counting the raw HTML errs on the safe side."""
    return len(text.encode("utf-16-le")) // 2


def _safe_cut(text: str, limit: int) -> int:
    """The largest cut position ≤ limit that is outside any tag or entity."""
    cut = limit
    lt, gt = text.rfind("<", 0, cut), text.rfind(">", 0, cut)
    if lt > gt:
        cut = lt
    amp, semi = text.rfind("&", 0, cut), text.rfind(";", 0, cut)
    if amp > semi and cut - amp <= 10:
        cut = amp
    return max(cut, 1)


def _open_tags(text: str) -> list[tuple[str, str]]:
    stack: list[tuple[str, str]] = []
    for closing, name, attrs in _TAG.findall(text):
        if closing:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == name:
                    del stack[i:]
                    break
        else:
            stack.append((name, attrs))
    return stack


def split_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    budget = limit - 200  # room for tags closed and reopened at a cut
    parts: list[str] = []
    rest = text
    reopen = ""
    while rest:
        rest = reopen + rest
        if _length(rest) <= limit:
            parts.append(rest)
            break
        # characters, not code units, index the string: shrink until it fits
        window = budget
        while _length(rest[:window]) > budget:
            window = int(window * 0.9)
        newline = rest.rfind("\n", 0, window)
        cut = newline + 1 if newline > window // 2 else _safe_cut(rest, window)
        head, rest = rest[:cut], rest[cut:]
        opened = _open_tags(head)
        head = head.rstrip("\n") + "".join(f"</{name}>" for name, _ in reversed(opened))
        reopen = "".join(f"<{name}{attrs}>" for name, attrs in opened)
        if head.strip():
            parts.append(head)
    return [p for p in parts if p.strip()]
