"""What a door number looks like, so that the unit question never swallows a sentence.

Accepted (after full-width digits and dashes become ASCII and spaces go): 1-502, 5-1-502,
502, 502室, 3单元502, 5栋1单元502, 3号楼2单元1201室, A座1502, B502, B-502, 12层1203. Anything
else (「楼道的灯坏了」) is not a unit: the caller treats it as a new message.
"""

from __future__ import annotations

import re

_WIDE = str.maketrans("０１２３４５６７８９－—–－／ＡＢＣＤＥＦ", "0123456789----/ABCDEF")
_SHAPE = re.compile(
    r"^(?:(?:[A-Za-z]|\d{1,3}|[A-Za-z]\d{1,2})(?:号楼|栋|幢|座|区|-|/))?"  # building or block
    r"(?:\d{1,2}(?:单元|-|/))?"  # entrance
    r"(?:\d{1,2}(?:层|楼))?"  # floor
    r"[A-Za-z]?-?\d{1,5}(?:室|号|房|户)?$"  # the door
)


def looks_like_unit(text: str | None) -> bool:
    cleaned = "".join((text or "").translate(_WIDE).split())
    return 0 < len(cleaned) <= 20 and _SHAPE.match(cleaned) is not None
