"""Domain errors. The core raises them; one place (handlers/errors.py) translates them."""

from __future__ import annotations

from typing import Any


class LinliError(Exception):
    """A problem to tell the user: ``key`` names a message in the catalogs."""

    def __init__(self, key: str, /, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class NotAllowed(LinliError):
    """The user may not do this (a resident pressing a leader's button, ...)."""

    def __init__(self, key: str = "error.not_allowed", /, **params: Any) -> None:
        super().__init__(key, **params)


class NotFound(LinliError):
    def __init__(self, key: str = "error.not_found", /, **params: Any) -> None:
        super().__init__(key, **params)


class BadInput(LinliError):
    """Malformed arguments; ``key`` usually names a usage hint."""
