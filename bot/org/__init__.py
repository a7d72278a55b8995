"""The organisation: nodes, leaders, partners, residents, bound chats, the org file and its checks.
May use core/, storage/ and config/; never a pillar."""
