"""The ``linli`` command (also ``python -m bot``).

    linli run                  run the bot (long polling; a webhook when LINLI_WEBHOOK_URL is set)
    linli sandbox [--fresh] [--org FILE] [--port 8090]
                               try Linli without Telegram: a demo neighbourhood in the browser
    linli check                validate the settings and the stored organisation
    linli db upgrade           bring the database schema up to date
    linli org import FILE      import the organisation from a TOML file (idempotent)
    linli org import FILE --prune [--yes]
                               also remove the leaders the file no longer lists: a dry run
                               that changes nothing, unless --yes
    linli org export [-o FILE] write the organisation as TOML
    linli calendar import FILE a year's official calendar (holiday-cn JSON; wins over shipped)
    linli calendar show YEAR   a year's holidays and make-up working days, and their source
    linli calendar add DATE off|work REASON
                               a local exception (a typhoon day off, a local holiday, a working day)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.core.clock import Clock, SystemClock
from config.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from storage.db import Database

EXIT_BAD_INPUT = 2
T = TypeVar("T")


def _settings_or_exit(require_token: bool = False) -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        _print_problems("settings", exc.problems)
        sys.exit(EXIT_BAD_INPUT)
    if require_token and settings.bot_token is None:
        _print_problems("settings", [("LINLI_BOT_TOKEN", "required to run the bot")])
        sys.exit(EXIT_BAD_INPUT)
    return settings


def _print_problems(what: str, problems: list[tuple[str, str]]) -> None:
    print(f"linli: {len(problems)} problem(s) in the {what}:", file=sys.stderr)
    for key, message in problems:
        print(f"  {key}: {message}", file=sys.stderr)


def cmd_run(_: argparse.Namespace) -> int:
    settings = _settings_or_exit(require_token=True)
    from bot.app import run

    run(settings)
    return 0


def cmd_sandbox(ns: argparse.Namespace) -> int:
    from sandbox.runner import Options, default_folder, serve

    if ns.org is not None and not Path(ns.org).is_file():
        print(f"linli: no such file: {ns.org}", file=sys.stderr)
        return EXIT_BAD_INPUT
    folder = Path(ns.data) if ns.data else default_folder()
    options = Options(folder=folder, fresh=ns.fresh, org=Path(ns.org) if ns.org else None,
                      port=ns.port)
    sys.setswitchinterval(0.0005)  # as `linli run`: aiosqlite's threads get the GIL back soon
    try:
        asyncio.run(serve(options))
    except OSError as exc:  # the port is taken, the folder cannot be written
        print(f"linli: the sandbox could not start: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def cmd_check(ns: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    problems: list[tuple[str, str]] = []
    if settings.bot_token is None:
        problems.append(("LINLI_BOT_TOKEN", "required to run the bot"))
    from bot.core.calendars import Calendars
    from bot.core.workcal import next_year_missing
    from bot.org.orgcheck import check_stored_org

    async def check(db: Database) -> tuple[list[tuple[str, str]], int | None]:
        calendar = await Calendars(settings, db).current()
        today = ns.clock.now().astimezone(settings.tz).date()
        return await check_stored_org(db, settings), next_year_missing(calendar, today)

    found, missing = asyncio.run(_with_db(settings, check))
    problems += found
    if missing is not None:
        print(f"linli: warning: no official calendar for {missing} yet; working-day deadlines"
              f" in {missing} count Monday to Friday until it is imported"
              f" (linli calendar import {missing}.json)", file=sys.stderr)
    from bot.org.privacy import retention_policy

    print("linli: retention policy in force:")
    for line in retention_policy(settings):
        print(f"  - {line}")
    if problems:
        _print_problems("configuration", problems)
        return EXIT_BAD_INPUT
    print(f"linli: configuration OK (database {settings.database})")
    return 0


def cmd_db_upgrade(_: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    from storage.db import database_for

    async def upgrade() -> tuple[list[int], int]:
        db = database_for(settings.database)
        await db.open()
        try:
            return await db.upgrade(), await db.schema_version()
        finally:
            await db.close()

    applied, version = asyncio.run(upgrade())
    done = ", ".join(f"{n:04d}" for n in applied) or "none needed"
    print(f"linli: database {settings.database} at schema version {version} (applied: {done})")
    return 0


def cmd_db_backup(ns: argparse.Namespace) -> int:
    """A consistent copy of the live SQLite database (the online backup API: the bot may keep
    running and writing meanwhile). For PostgreSQL use pg_dump."""
    import sqlite3

    settings = _settings_or_exit()
    target = Path(ns.file)
    if not isinstance(settings.database, Path):
        print("linli: the database is PostgreSQL: back it up with pg_dump (see the README's"
              " deployment section)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not settings.database.is_file():
        print(f"linli: no database at {settings.database}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if target.exists():
        print(f"linli: {target} exists; not overwritten", file=sys.stderr)
        return EXIT_BAD_INPUT
    source = sqlite3.connect(f"file:{settings.database}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        reports = copy.execute("SELECT count(*) FROM reports").fetchone()[0]
    finally:
        copy.close()
        source.close()
    print(f"linli: backed up {settings.database} to {target} ({reports} reports)")
    return 0


def cmd_db_copy(ns: argparse.Namespace) -> int:
    """Every row of SRC into the new, empty DST (an SQLite file or a postgresql:// URL),
    verified table by table by row counts and checksums."""
    from storage.copy import CopyError, copy_database

    logging.basicConfig(level=logging.WARNING)
    try:
        copied = asyncio.run(copy_database(_file_or_url(ns.source), _file_or_url(ns.target)))
    except (CopyError, OSError) as exc:
        print(f"linli: copy failed: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for table in copied:
        if table.rows:
            print(f"  {table.table:<28} {table.rows:>9} rows  sha256 {table.checksum[:16]}")
    total = sum(t.rows for t in copied)
    print(f"linli: copied {total} rows in {len(copied)} tables from {_shown(ns.source)}"
          f" to {_shown(ns.target)}; every table's count and checksum match")
    return 0


def _file_or_url(value: str) -> Path | str:
    return value if value.startswith(("postgresql://", "postgres://")) else Path(value)


def _shown(value: str) -> str:
    """A database's name for the terminal, without a password."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", value)


def cmd_org_import(ns: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    from bot.org.orgfile import OrgFileError, import_org

    path = Path(ns.file)
    if not path.is_file():
        print(f"linli: no such file: {path}", file=sys.stderr)
        return EXIT_BAD_INPUT
    dry_run = ns.prune and not ns.yes
    try:
        summary = asyncio.run(_with_db(settings, lambda db: import_org(
            db, settings, path, prune=ns.prune, dry_run=dry_run)))
    except OrgFileError as exc:
        print(f"linli: {path} was not imported; nothing changed. Problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if dry_run:
        print(f"linli: dry run of {path} with --prune; nothing changed. "
              f"It would do: {summary.describe()}")
    else:
        print(f"linli: imported {path}: {summary.describe()}")
    removals = summary.removals()
    if removals:
        print(f"  leaders {'to remove' if dry_run else 'removed'} (node, user id, name):")
        for line in removals:
            print(f"    {line}")
    if dry_run:
        print("  run again with --prune --yes to apply it")
    return 0


def cmd_org_export(ns: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    from bot.org.orgfile import export_org

    text = asyncio.run(_with_db(settings, lambda db: export_org(db, settings)))
    if ns.output:
        Path(ns.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def cmd_calendar_import(ns: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    from bot.core.calendars import Calendars
    from bot.core.workcal import CalendarFileError

    path = Path(ns.file)
    if not path.is_file():
        print(f"linli: no such file: {path}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        year = asyncio.run(_with_db(settings, lambda db: Calendars(settings, db).import_file(
            path.read_bytes(), str(path), ns.clock.now())))
    except CalendarFileError as exc:
        print(f"linli: {path} was not imported; nothing changed: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    off = sum(1 for is_off, _ in year.days.values() if is_off)
    print(f"linli: imported the calendar of {year.year} from {path}: {off} holiday(s),"
          f" {len(year.days) - off} make-up working day(s)")
    if not year.days:
        print(f"linli: warning: {path} lists no days; {year.year} still counts as unknown",
              file=sys.stderr)
    return 0


def cmd_calendar_show(ns: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    from bot.core.calendars import Calendars
    from bot.core.workcal import EXCEPTION, FILE, PACKAGE, WEEKDAYS

    calendar = asyncio.run(_with_db(settings, lambda db: Calendars(settings, db).current()))
    sources = {FILE: "from its official calendar file",
               PACKAGE: "from the chinese-calendar package",
               WEEKDAYS: "not known: Monday to Friday are working days until its calendar is"
                         " imported (linli calendar import FILE)"}
    print(f"{ns.year}: {sources[calendar.source(ns.year)]}; working hours {calendar.hours}")
    for day in calendar.year_days(ns.year):
        what = "working" if day.working else "off"
        local = " (local exception)" if day.source == EXCEPTION else ""
        print(f"  {day.day.isoformat()} {day.day:%a}  {what:<7}  {day.name or ''}{local}")
    return 0


def cmd_calendar_add(ns: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    from datetime import date

    from bot.core.calendars import Calendars

    try:
        day = date.fromisoformat(ns.date)
    except ValueError:
        print(f"linli: {ns.date!r} is not a date such as 2027-07-01", file=sys.stderr)
        return EXIT_BAD_INPUT
    reason = " ".join(ns.reason).strip()
    if not reason or len(reason) > 40:
        print("linli: give a short reason (at most 40 characters), e.g. 台风停工", file=sys.stderr)
        return EXIT_BAD_INPUT
    off = ns.kind == "off"
    asyncio.run(_with_db(settings, lambda db: Calendars(settings, db).add_exception(
        day, off, reason, None, ns.clock.now())))
    print(f"linli: {day.isoformat()} is now a {'day off' if off else 'working day'}: {reason}")
    return 0


async def _with_db(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    from storage.db import open_database

    db = await open_database(settings.database)  # brings the schema up to date first
    try:
        return await work(db)
    finally:
        await db.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linli", description="Linli (邻里) community bot")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot").set_defaults(func=cmd_run)
    box = sub.add_parser("sandbox", help="try Linli without Telegram, in the browser")
    box.add_argument("--fresh", action="store_true", help="start the sandbox over")
    box.add_argument("--org", metavar="FILE", help="your own org file instead of the demo")
    box.add_argument("--port", type=int, default=8090, help="the web chat's port (8090)")
    box.add_argument("--data", metavar="FOLDER",
                     help="where the sandbox keeps its data (~/.local/share/linli-sandbox)")
    box.set_defaults(func=cmd_sandbox)
    sub.add_parser("check", help="validate settings and organisation").set_defaults(
        func=cmd_check)
    db = sub.add_parser("db", help="database commands").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="apply pending migrations").set_defaults(func=cmd_db_upgrade)
    backup = db.add_parser("backup", help="copy the live SQLite database to FILE")
    backup.add_argument("file")
    backup.set_defaults(func=cmd_db_backup)
    copy = db.add_parser("copy", help="copy every row of SRC into the new, empty DST"
                                      " (SQLite files or postgresql:// URLs)")
    copy.add_argument("source", metavar="SRC")
    copy.add_argument("target", metavar="DST")
    copy.set_defaults(func=cmd_db_copy)
    org = sub.add_parser("org", help="organisation file").add_subparsers(dest="org", required=True)
    imp = org.add_parser("import", help="import an org file (idempotent)")
    imp.add_argument("file")
    imp.add_argument("--prune", action="store_true",
                     help="also remove the leaders the file no longer lists (a dry run "
                          "unless --yes)")
    imp.add_argument("--yes", action="store_true", help="apply what --prune showed")
    imp.set_defaults(func=cmd_org_import)
    exp = org.add_parser("export", help="export the organisation as TOML")
    exp.add_argument("-o", "--output", help="write to this file instead of stdout")
    exp.set_defaults(func=cmd_org_export)
    cal = sub.add_parser("calendar", help="the working calendar").add_subparsers(
        dest="calendar", required=True)
    cal_imp = cal.add_parser("import", help="import a year's calendar (holiday-cn JSON)")
    cal_imp.add_argument("file")
    cal_imp.set_defaults(func=cmd_calendar_import)
    show = cal.add_parser("show", help="a year's holidays and make-up working days")
    show.add_argument("year", type=int)
    show.set_defaults(func=cmd_calendar_show)
    add = cal.add_parser("add", help="a local day off or working day")
    add.add_argument("date", help="YYYY-MM-DD")
    add.add_argument("kind", choices=["off", "work"])
    add.add_argument("reason", nargs="+")
    add.set_defaults(func=cmd_calendar_add)
    return parser


def main(argv: list[str] | None = None, clock: Clock | None = None) -> int:
    """``clock``: the time the commands see (tests set it; the system clock otherwise)."""
    ns = _parser().parse_args(argv)
    ns.clock = clock or SystemClock()
    logging.basicConfig(
        level=logging.INFO if ns.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if ns.command == "run":
        _log_to_file()
    return int(ns.func(ns))


def _log_to_file() -> None:
    """[privacy] log_file: the log also goes there, pruned daily by the retention job."""
    try:
        path = load_settings().privacy.log_file
    except Exception:  # bad settings are reported by the command itself
        return
    if path is not None:
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
