"""Speech to text for voice reports: an optional, pluggable engine.

No engine is built in. An operator who wants transcripts installs one (a local Whisper
model, say) and names its class in the settings::

    [speech]
    engine = "mypackage.whisper:WhisperEngine"
    options = { model = "small" }      # keyword arguments of the constructor

The class needs one coroutine, ``transcribe(audio, *, kind, duration)``, returning the
text heard (or None). A transcript is shown labelled 机器转写，仅供参考 and helps guess the
category; the voice itself is what counts. Without an engine, or when it fails or takes
too long, the report simply has no transcript.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

TRANSCRIPT_MAX = 2000


@runtime_checkable
class SpeechToText(Protocol):
    async def transcribe(self, audio: bytes, *, kind: str, duration: int) -> str | None:
        """The words in ``audio`` (OGG/Opus for a voice, MP4 for a video note)."""


class SpeechEngineError(Exception):
    """The configured engine cannot be loaded (named in ``linli check`` and at start)."""


def load_engine(spec: str | None, options: dict[str, Any] | None = None) -> SpeechToText | None:
    """The engine named ``module:Class`` built with ``options``; None when none is set."""
    if not spec:
        return None
    module_name, _, class_name = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        engine = cls(**(options or {}))
    except Exception as exc:  # an operator's typo must say what is wrong, not crash later
        raise SpeechEngineError(f"speech engine {spec!r} cannot be loaded: {exc}") from exc
    if not isinstance(engine, SpeechToText):
        raise SpeechEngineError(f"speech engine {spec!r} has no async transcribe()")
    return engine


async def transcribe(engine: SpeechToText | None, fetch: Callable[[], Awaitable[bytes]], *,
                     kind: str, duration: int, timeout: float) -> str | None:
    """The transcript of a voice, or None (no engine, nothing heard, an error, too slow)."""
    if engine is None:
        return None
    try:
        async with asyncio.timeout(timeout):
            text = await engine.transcribe(await fetch(), kind=kind, duration=duration)
    except Exception:  # a transcript is a convenience: never lose the voice over it
        log.warning("speech engine failed; the voice is kept without a transcript",
                    exc_info=True)
        return None
    text = " ".join((text or "").split())
    return text[:TRANSCRIPT_MAX] or None
