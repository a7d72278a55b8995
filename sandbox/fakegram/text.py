"""Message text as Telegram sees it: HTML parse mode, UTF-16 offsets, automatic entities.

`parse_html` follows TDLib's `parse_html` (td/telegram/MessageEntity.cpp): it walks the
UTF-8 bytes, so error positions are byte offsets, and an `&` that does not start one of
`&lt; &gt; &amp; &quot; &#NNN; &#xHH;` is kept as a literal character, as Telegram does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Entity = dict[str, Any]

_ALLOWED_TAGS = frozenset(
    "a b strong i em u ins s strike del span tg-spoiler tg-emoji code pre blockquote".split()
)
_SIMPLE_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic",
    "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler",
}  # fmt: skip
_NAMED_ENTITIES = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SPACES = b" \t\r\n\v\x00"


class HtmlError(ValueError):
    """The HTML cannot be parsed; the message is TDLib's, without the Bot API prefix."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int  # in UTF-16 code units of the parsed text
    begin: int  # in bytes of the parsed text


@dataclass
class _Parser:
    data: bytes
    pos: int = 0
    out: bytearray = field(default_factory=bytearray)
    offset: int = 0
    open_tags: list[_OpenTag] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)

    def at(self, i: int) -> int:
        return self.data[i] if i < len(self.data) else 0

    def skip_spaces(self) -> None:
        while self.at(self.pos) and self.at(self.pos) in _SPACES:
            self.pos += 1

    def run(self) -> None:
        while self.pos < len(self.data):
            c = self.data[self.pos]
            if c == ord("&") and self.decode_entity_into_text():
                continue
            if c != ord("<"):
                self.out.append(c)
                if c & 0xC0 != 0x80:  # first byte of a character
                    self.offset += 2 if c >= 0xF0 else 1
                self.pos += 1
                continue
            begin = self.pos
            self.pos += 1
            if self.at(self.pos) == ord("/"):
                self.end_tag(begin)
            else:
                self.start_tag(begin)
            self.pos += 1  # past ">"
        if self.open_tags:
            name = self.open_tags[-1].name
            raise HtmlError(f'Can\'t find end tag corresponding to start tag "{name}"')

    def decode_entity(self, start: int) -> tuple[str, int] | None:
        """The character an HTML entity at `start` stands for, and where it ends."""
        end = start + 1
        if self.at(end) == ord("#"):
            end += 1
            hexadecimal = self.at(end) == ord("x")
            digits = b"0123456789abcdefABCDEF" if hexadecimal else b"0123456789"
            end += hexadecimal
            number_start = end
            while self.at(end) and self.at(end) in digits:
                end += 1
            code = int(self.data[number_start:end] or b"0", 16 if hexadecimal else 10)
            if code == 0 or code >= 0x10FFFF or end - start >= 10:
                return None
            if 0xD800 <= code <= 0xDFFF:
                raise HtmlError(
                    "Text contains invalid Unicode characters after decoding HTML entities, "
                    "check for unmatched surrogate code units"
                )
            char = chr(code)
        else:
            while chr(self.at(end)).isascii() and chr(self.at(end)).isalpha():
                end += 1
            named = _NAMED_ENTITIES.get(self.data[start + 1 : end])
            if named is None:
                return None
            char = named
        return char, end + 1 if self.at(end) == ord(";") else end

    def decode_entity_into_text(self) -> bool:
        decoded = self.decode_entity(self.pos)
        if decoded is None:
            return False
        char, self.pos = decoded
        self.out += char.encode()
        self.offset += utf16_len(char)
        return True

    def start_tag(self, begin: int) -> None:
        while self.at(self.pos) not in _SPACES and self.at(self.pos) != ord(">"):
            self.pos += 1
        if self.at(self.pos) == 0:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        name = self.data[begin + 1 : self.pos].decode(errors="replace").lower()
        if name not in _ALLOWED_TAGS:
            raise HtmlError(f'Unsupported start tag "{name}" at byte offset {begin}')
        argument = ""
        while self.at(self.pos) != ord(">"):
            self.skip_spaces()
            if self.at(self.pos) == ord(">"):
                break
            argument = self.attribute(name, begin, argument)
        if name == "span" and argument != "spoiler":
            raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        self.open_tags.append(_OpenTag(name, argument, self.offset, len(self.out)))

    def attribute(self, tag: str, begin: int, argument: str) -> str:
        """Read one attribute of `tag`; return the tag's argument after it."""
        name_start = self.pos
        while self.at(self.pos) not in _SPACES and self.at(self.pos) not in b"=>":
            self.pos += 1
        name = self.data[name_start : self.pos].decode(errors="replace")
        if not name:
            raise HtmlError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        self.skip_spaces()
        if self.at(self.pos) != ord("="):
            if tag == "blockquote" and name == "expandable":
                return "expandable"
            raise HtmlError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {begin}"
            )
        self.pos += 1
        self.skip_spaces()
        if self.at(self.pos) == 0:
            raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        value = self.attribute_value()
        if self.at(self.pos) == 0:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        if tag == "a" and name == "href":
            return value
        if tag == "code" and name == "class" and value.startswith("language-"):
            return value.removeprefix("language-")
        if tag == "span" and name == "class" and value.startswith("tg-"):
            return value.removeprefix("tg-")
        if tag == "tg-emoji" and name == "emoji-id":
            return value
        return argument

    def attribute_value(self) -> str:
        quote = self.at(self.pos)
        if quote not in b"'\"":
            start = self.pos
            while chr(self.at(self.pos)).isalnum() or self.at(self.pos) in b".-":
                self.pos += 1
            if self.at(self.pos) not in _SPACES and self.at(self.pos) != ord(">"):
                raise HtmlError(f"Unexpected end of name token at byte offset {start}")
            return self.data[start : self.pos].decode(errors="replace").lower()
        self.pos += 1
        value = bytearray()
        while self.at(self.pos) not in (quote, 0):
            decoded = self.decode_entity(self.pos) if self.at(self.pos) == ord("&") else None
            if decoded is None:
                value.append(self.data[self.pos])
                self.pos += 1
            else:
                char, self.pos = decoded
                value += char.encode()
        if self.at(self.pos) == quote:
            self.pos += 1
        return value.decode(errors="replace")

    def end_tag(self, begin: int) -> None:
        if not self.open_tags:
            raise HtmlError(f"Unexpected end tag at byte offset {begin}")
        while self.at(self.pos) not in _SPACES and self.at(self.pos) != ord(">"):
            self.pos += 1
        end_name = self.data[begin + 2 : self.pos].decode(errors="replace")
        self.skip_spaces()
        if self.at(self.pos) != ord(">"):
            raise HtmlError(f"Unclosed end tag at byte offset {begin}")
        tag = self.open_tags.pop()
        if end_name and end_name != tag.name:
            raise HtmlError(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag.name}>", '
                f'found "</{end_name}>"'
            )
        if self.offset > tag.offset:
            self.close_entity(tag, self.offset - tag.offset)

    def close_entity(self, tag: _OpenTag, length: int) -> None:
        entity: Entity = {"offset": tag.offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last["offset"], last["length"]) == (tag.offset, length)
        if tag.name in _SIMPLE_TYPES:
            entity["type"] = _SIMPLE_TYPES[tag.name]
        elif tag.name == "blockquote":
            entity["type"] = "expandable_blockquote" if tag.argument else "blockquote"
        elif tag.name == "tg-emoji":
            if not tag.argument:
                return
            entity.update(type="custom_emoji", custom_emoji_id=tag.argument)
        elif tag.name == "a":
            url = _normalise_url(tag.argument or self.out[tag.begin :].decode(errors="replace"))
            if url is None:
                return
            entity.update(type="text_link", url=url)
        elif tag.name == "code" and tag.argument and same_span and last and last["type"] == "pre":
            last["language"] = tag.argument
            return
        elif tag.name == "pre" and same_span and last and last.get("_language"):
            last.update(type="pre", language=last.pop("_language"))
            return
        elif tag.name == "code":
            entity["type"] = "code"
            if tag.argument:
                entity["_language"] = tag.argument  # becomes pre's language if <pre> wraps it
        else:
            entity["type"] = "pre"
        self.entities.append(entity)


def _normalise_url(url: str) -> str | None:
    url = url.strip()
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url):
        return url
    if re.match(r"^[\w-]+(\.[\w-]+)+", url):
        return f"http://{url}" if "/" in url else f"http://{url}/"
    return None


def parse_html(html: str) -> tuple[str, list[Entity]]:
    """Plain text and entities of an HTML-formatted message, or HtmlError."""
    parser = _Parser(html.encode())
    parser.run()
    for entity in parser.entities:
        entity.pop("_language", None)
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return parser.out.decode(), entities


def strip_text(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Trim surrounding whitespace as Telegram does, moving entities along."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


# Entities Telegram detects by itself in any message text.
_AUTO_ENTITIES = (
    ("bot_command", re.compile(r"(?<![\w/@])/[a-zA-Z0-9_]{1,64}(@[a-zA-Z0-9_]{3,32})?(?![\w/])")),
    ("mention", re.compile(r"(?<![\w@])@[a-zA-Z0-9_]{5,32}(?!\w)")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
    ("url", re.compile(r"(?<![\w@])https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'\"]")),
)
_NO_AUTO_INSIDE = frozenset({"code", "pre", "text_link", "url"})


def auto_entities(text: str, entities: list[Entity] | None = None) -> list[Entity]:
    """`entities` plus the commands, mentions, hashtags and links Telegram finds in `text`."""
    result = list(entities or [])
    blocked = [(e["offset"], e["offset"] + e["length"]) for e in result
               if e["type"] in _NO_AUTO_INSIDE]  # fmt: skip
    for kind, pattern in _AUTO_ENTITIES:
        for match in pattern.finditer(text):
            start = utf16_len(text[: match.start()])
            length = utf16_len(match.group())
            if any(start < end and begin < start + length for begin, end in blocked):
                continue
            blocked.append((start, start + length))
            result.append({"type": kind, "offset": start, "length": length})
    return sorted(result, key=lambda e: (e["offset"], -e["length"]))
