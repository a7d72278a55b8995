"""The community desk: a web dashboard (also a Telegram Mini App) served by the bot's process.
Uses bot/ (its services and permission checks) and storage/; the bot loads it only when on."""
