"""A speech-to-text engine for the tests: it "hears" what the fake server put in a voice."""

from __future__ import annotations


class FakeSpeech:
    """Reads the words after the header of a fakegram voice (``spoken=`` in user_sends)."""

    heard: list[tuple[str, int]] = []  # (kind, duration) of every voice transcribed

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    async def transcribe(self, audio: bytes, *, kind: str, duration: int) -> str | None:
        FakeSpeech.heard.append((kind, duration))
        words = audio.split(b"|", 1)[1].decode() if b"|" in audio else ""
        return self.prefix + words if words else None
