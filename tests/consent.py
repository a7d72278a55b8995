"""/join shows the personal-information notice first; tests press 同意 like a resident."""

from __future__ import annotations

import asyncio

from sandbox.fakegram import FakeTelegram

AGREE = {"zh": "同意", "en": "I agree"}


async def agree(tg: FakeTelegram, user_id: int, chat_id: int, lang: str = "zh") -> None:
    """Wait for the notice in ``chat_id`` and press its 同意 button."""
    notice = await tg.wait_for(lambda m: m["chat"]["id"] == chat_id and any(
        b.get("callback_data", "").startswith("pv:ok:") and b["callback_data"].endswith(
            f":{user_id}") for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row))
    button = next(b for row in notice["reply_markup"]["inline_keyboard"] for b in row
                  if b["text"] == AGREE[lang])
    tg.press_button(user_id, chat_id, notice["message_id"], button["callback_data"])


# the button, and the words of the answer once recorded
IN_PERSON = {"zh": ("居民已当面同意", "当面同意"),
             "en": ("They agreed in person", "agreed in person")}


async def care_agreed(tg: FakeTelegram, leader: int, entry: int, lang: str = "zh") -> None:
    """A leader records that the resident of care entry ``entry`` agreed in person: the
    question under the answer to /care_add is pressed, and its redraw awaited."""
    data = f"cc:in:{entry}"
    question = await tg.wait_for(lambda m: m["chat"]["id"] == leader and any(
        b.get("callback_data") == data
        for row in (m.get("reply_markup") or {}).get("inline_keyboard", []) for b in row))
    tg.press_button(leader, leader, question["message_id"], data)
    recorded = IN_PERSON[lang][1]
    async with asyncio.timeout(5):
        while recorded not in (tg.message(leader, question["message_id"]).get("text") or ""):
            await asyncio.sleep(0.02)
