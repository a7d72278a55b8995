"""What the bot counts for Prometheus (/metrics, where [web] is on), and when it last heard
from Telegram (/healthz). One registry per process; the counters only ever go up."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES = Counter("linli_updates_handled", "Telegram updates handled", registry=REGISTRY)
HANDLER_SECONDS = Histogram(
    "linli_handler_seconds", "Time in the handlers per update (waiting for its chat excluded)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=REGISTRY)
SENDS = Counter("linli_sends", "Outbox messages finished, by outcome", ["outcome"],
                registry=REGISTRY)
FLOOD_WAITS = Counter("linli_flood_waits", "429 answers (flood control) from Telegram",
                      registry=REGISTRY)
DEADLINES_FIRED = Counter("linli_deadlines_fired", "Deadlines acted on", registry=REGISTRY)
DEADLINE_LATENESS = Histogram(
    "linli_deadline_late_seconds", "How long after it was due a deadline was acted on",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600), registry=REGISTRY)
OUTBOX_DEPTH = Gauge("linli_outbox_depth", "Messages waiting to be sent", registry=REGISTRY)
OLDEST_OVERDUE = Gauge("linli_oldest_deadline_overdue_seconds",
                       "How long the oldest armed deadline is past due (0: none)",
                       registry=REGISTRY)

_last_contact = 0.0  # monotonic time of Telegram's last answer to a poll, or a webhook call


def heard_from_telegram() -> None:
    global _last_contact
    _last_contact = time.monotonic()


def seconds_since_telegram() -> float | None:
    return None if not _last_contact else time.monotonic() - _last_contact
