"""Shared by the benchmarks: the fake server, subprocesses, a generated district."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sandbox.fakegram import FakeTelegram  # noqa: E402
from tests.roundrobin import RoundRobin, free_port  # noqa: E402,F401

TOKEN = "123456:BENCH-token-for-the-fake-server"

ECHO_BOT = """
import sys
from telegram.ext import Application, MessageHandler, filters
async def echo(update, context):
    await update.effective_message.reply_text(update.effective_message.text)
app = (Application.builder().token(sys.argv[1]).base_url(sys.argv[2])
       .concurrent_updates(8).build())
app.add_handler(MessageHandler(filters.TEXT, echo))
app.run_polling(timeout=1, poll_interval=0.0)
"""


def linli_env(tg: FakeTelegram, folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update({
        "LINLI_BOT_TOKEN": TOKEN, "LINLI_API_BASE_URL": tg.base_url,
        "LINLI_API_BASE_FILE_URL": tg.base_file_url,
        "LINLI_DATABASE": str(folder / "linli.db"), "LINLI_ADMIN_IDS": "1",
        "PYTHONPATH": str(ROOT),
        "NO_PROXY": "127.0.0.1,localhost",  # the fake server is local, whatever proxy is set
        # no bench depends on the time of day: quiet hours would hold pings (and a
        # broadcast's delivery report) until 07:00 when run at night in Asia/Shanghai
        "LINLI_QUIET_HOURS": '{"start": "00:00", "end": "00:00"}',
    })
    env.update(extra)
    return env


def peak_rss_mb(pid: int) -> float:
    """The process's high-water mark of resident memory (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has been busy so far, all cores together (Linux)."""
    user, nice, system, _idle, _iowait, irq, softirq = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


async def wait_first_poll(tg: FakeTelegram, since: int, timeout: float = 60) -> float:
    """Seconds until a getUpdates call arrives after call number ``since``."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if any(c.method == "getUpdates" for c in tg.calls[since:]):
            return time.perf_counter() - start
        await asyncio.sleep(0.005)
    raise TimeoutError("the bot never polled")


async def start_process(cmd: list[str], env: dict[str, str],
                        log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a bot; its log goes to ``log`` (a pipe nobody reads would block it once full)."""
    return _spawn(cmd, env, log)


def _spawn(cmd: list[str], env: dict[str, str], log: Path | None) -> subprocess.Popen[bytes]:
    with open(log or os.devnull, "ab") as err:  # the child keeps its own copy of the handle
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)


def handler_times(log: Path) -> str:
    """The bot's own summary of its handler times, logged when it stops."""
    lines = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines()
             if "handler time" in ln]
    return lines[-1].split("handled", 1)[-1].strip() if lines else "(not logged)"


def stop_process(proc: subprocess.Popen[bytes]) -> int:
    proc.terminate()
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -9


def district_toml(compounds: int = 20, buildings: int = 400, residents: int = 20_000) -> str:
    """1 community, 20 compounds, 400 buildings (two grids each), 20,000 residents."""
    out = ['[[nodes]]\nkey = "district"\nname = "示范社区"\nlevel = "community"\n']
    per_compound = buildings // compounds
    grids: list[str] = []
    for c in range(compounds):
        out.append(f'[[nodes]]\nkey = "c{c}"\nname = "第{c}小区"\nlevel = "compound"\n'
                   f'parent = "district"\n')
        out.append(f'[[leaders]]\nnode = "c{c}"\nuser_id = {100_000 + c}\nname = "片长{c}"\n')
        for b in range(per_compound):
            key = f"c{c}-b{b}"
            chat = -(1_000_000_000_000 + c * 1000 + b)
            out.append(f'[[nodes]]\nkey = "{key}"\nname = "{c}区{b}号楼"\nlevel = "building"\n'
                       f'parent = "c{c}"\nchat_id = {chat}\n')
            out.append(f'[[leaders]]\nnode = "{key}"\nuser_id = {200_000 + c * 1000 + b}\n')
            for g in (1, 2):
                out.append(f'[[nodes]]\nkey = "{key}-u{g}"\nname = "{c}区{b}号楼{g}单元"\n'
                           f'level = "grid"\nparent = "{key}"\n')
                grids.append(f"{key}-u{g}")
    for r in range(residents):
        out.append(f'[[residents]]\nuser_id = {1_000_000 + r}\nnode = "{grids[r % len(grids)]}"\n'
                   f'unit = "{r % 30 + 1}-{r % 6 + 1}0{r % 4 + 1}"\n')
    return "\n".join(out)
