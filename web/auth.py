"""Sign-in without passwords: a Telegram Mini App's initData, or a one-time link from the
bot; then a signed session cookie. Nothing personal travels in a URL."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

SESSION_LIFETIME = timedelta(hours=12)
LINK_LIFETIME = timedelta(minutes=10)
INIT_DATA_MAX_AGE = timedelta(hours=1)


class AuthError(Exception):
    """A sign-in refused; ``reason`` names the page's message (forged, expired, used)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Session:
    user_id: int
    csrf: str
    expires_at: int  # unix seconds


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_login_token() -> tuple[str, str]:
    """A link's token (only ever in the link) and the hash that is stored."""
    token = secrets.token_urlsafe(24)
    return token, token_hash(token)


def check_init_data(init_data: str, bot_token: str, now: datetime) -> tuple[int, str]:
    """The Telegram user id a Mini App's initData vouches for, and the data's hash.

    Per the Bot API: secret = HMAC_SHA256("WebAppData", bot_token); the hash is
    HMAC_SHA256(secret, the other fields as sorted "key=value" lines), in hex.
    """
    fields = dict(parse_qsl(init_data, keep_blank_values=True))
    given = fields.pop("hash", "")
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    wanted = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if not given or not hmac.compare_digest(given, wanted):
        raise AuthError("forged")
    try:
        signed_at = int(fields["auth_date"])
        user_id = int(json.loads(fields["user"])["id"])
    except (KeyError, ValueError, TypeError):
        raise AuthError("forged") from None
    age = now.timestamp() - signed_at
    if age > INIT_DATA_MAX_AGE.total_seconds() or age < -60:
        raise AuthError("expired")
    return user_id, given


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """initData as Telegram would build it (the sandbox and the tests play Telegram)."""
    from urllib.parse import urlencode

    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


class SessionSigner:
    """Cookies of the form ``user.expiry.csrf.signature``, signed with a key of the bot's."""

    def __init__(self, bot_token: str) -> None:
        self._key = hmac.new(bot_token.encode(), b"linli web session", hashlib.sha256).digest()

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def issue(self, user_id: int, now: datetime) -> tuple[str, Session]:
        session = Session(user_id, secrets.token_urlsafe(16),
                          int((now + SESSION_LIFETIME).timestamp()))
        body = f"{session.user_id}.{session.expires_at}.{session.csrf}"
        return f"{body}.{self._sign(body)}", session

    def read(self, cookie: str | None, now: datetime) -> Session | None:
        if not cookie or cookie.count(".") != 3:
            return None
        body, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        user, expiry, csrf = body.split(".")
        try:
            session = Session(int(user), csrf, int(expiry))
        except ValueError:
            return None
        return session if session.expires_at > now.timestamp() else None
