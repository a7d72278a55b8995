"""Linli (邻里): the application and the domain core."""

import os

# Opt in to PTB's coming behaviour now: RetryAfter.retry_after as a timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")
