"""The sandbox: Linli without Telegram (a Bot API emulator, a demo neighbourhood, a web chat)."""
