"""The ``linli`` command (also ``python -m bot``).

    linli run                  run the bot (long polling; a webhook when LINLI_WEBHOOK_URL is set)
    linli check                validate the settings and the stored organisation
    linli db upgrade           bring the database schema up to date
    linli org import FILE      import the organisation from a TOML file (idempotent)
    linli org export [-o FILE] write the organisation as TOML
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from config.settings import Settings, SettingsError, load_settings

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


def cmd_check(_: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    problems: list[tuple[str, str]] = []
    if settings.bot_token is None:
        problems.append(("LINLI_BOT_TOKEN", "required to run the bot"))
    from bot.org.orgcheck import check_stored_org

    problems += asyncio.run(_with_db(settings, lambda db: check_stored_org(db, settings)))
    if problems:
        _print_problems("configuration", problems)
        return EXIT_BAD_INPUT
    print(f"linli: configuration OK (database {settings.database})")
    return 0


def cmd_db_upgrade(_: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    from storage.db import Database

    async def upgrade() -> tuple[list[int], int]:
        db = Database(settings.database)
        await db.open()
        try:
            return await db.upgrade(), await db.schema_version()
        finally:
            await db.close()

    applied, version = asyncio.run(upgrade())
    done = ", ".join(f"{n:04d}" for n in applied) or "none needed"
    print(f"linli: database {settings.database} at schema version {version} (applied: {done})")
    return 0


def cmd_org_import(ns: argparse.Namespace) -> int:
    settings = _settings_or_exit()
    from bot.org.orgfile import OrgFileError, import_org

    path = Path(ns.file)
    if not path.is_file():
        print(f"linli: no such file: {path}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        summary = asyncio.run(_with_db(settings, lambda db: import_org(db, settings, path)))
    except OrgFileError as exc:
        print(f"linli: {path} was not imported; nothing changed. Problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"linli: imported {path}: {summary.describe()}")
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
    sub.add_parser("check", help="validate settings and organisation").set_defaults(
        func=cmd_check)
    db = sub.add_parser("db", help="database commands").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="apply pending migrations").set_defaults(func=cmd_db_upgrade)
    org = sub.add_parser("org", help="organisation file").add_subparsers(dest="org", required=True)
    imp = org.add_parser("import", help="import an org file (idempotent)")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_org_import)
    exp = org.add_parser("export", help="export the organisation as TOML")
    exp.add_argument("-o", "--output", help="write to this file instead of stdout")
    exp.set_defaults(func=cmd_org_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if ns.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return int(ns.func(ns))


if __name__ == "__main__":
    sys.exit(main())
