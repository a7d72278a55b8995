"""This process among the bot's instances: its name, and whether another one has died."""

from __future__ import annotations

import os
import secrets
import socket

# host:pid:random, unique among every instance there ever was
INSTANCE = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def dead_here(holder: str) -> bool:
    """``holder`` names a process of this machine that no longer runs (killed, restarted):
    what it held need not be waited out."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False
