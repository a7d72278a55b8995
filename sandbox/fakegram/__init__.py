"""A fake Telegram Bot API server: the tests drive the bot through it, and `linli sandbox`
runs on it.

    server = FakeTelegram()
    await server.start()
    bot = Bot(server.token, base_url=server.base_url, base_file_url=server.base_file_url)

Where things live:
    server.py   FakeTelegram: HTTP (aiohttp on 127.0.0.1), `calls`, `sent()`, `edits()`,
                `shown()` (sends and every edit), `message()`, `wait_for()`, `wait_for_call()`,
                `fail_next/hang_next/drop_next`
    actions.py  what people do: `user_sends`, `press_button`, `vote`, `add_bot_to_group`,
                `member_joins`, `migrate_group`, `user_blocks_bot` ... (each queues updates)
    state.py    the world: users, groups, messages, files; the access rules (403/400)
    updates.py  the getUpdates queue: offsets, allowed_updates, long polling, 409
    api_*.py    the Bot API methods, one function each, registered by name
    compose.py  checks every sending method shares; text.py  HTML parse mode, UTF-16
    faults.py   flood limits (429) and injected failures
"""

from .server import Call, FakeTelegram

__all__ = ["Call", "FakeTelegram"]
