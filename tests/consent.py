"""/join shows the personal-information notice first; tests press 同意 like a resident."""

from __future__ import annotations

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
