from __future__ import annotations

import asyncio
import io
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sandbox.fakegram import FakeTelegram
from tests import backend
from tests.harness import BotHarness
from tests.pgserver import PostgresServer, PostgresUnavailable

STUCK_AFTER = 100.0  # seconds: no test here takes half of that

# the fake Bot API server is local: never reach it through a proxy the machine may set
# (the bot honours HTTP(S)_PROXY, as deployments behind one need)
for _name in ("NO_PROXY", "no_proxy"):
    os.environ[_name] = ",".join(filter(None, [os.environ.get(_name), "127.0.0.1", "localhost"]))


BACKENDS = ("sqlite", "postgresql")
_postgres = PostgresServer()
_postgres_missing: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "no_storage: the module's tests touch no database (run once, not per backend)")
    config.addinivalue_line(
        "markers", "sqlite_only(why): a test of SQLite's own machinery (run on SQLite only)")
    config.addinivalue_line(
        "markers", "postgres_only: a test that needs PostgreSQL (its half only)")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Start (or reach) the PostgreSQL server once for the session. With pytest-xdist the
    controller does it before the workers start; they find it in their environment."""
    global _postgres_missing
    if getattr(session.config, "workerinput", None) is not None:
        _postgres_missing = os.environ.get("LINLI_TEST_POSTGRES_MISSING") or None
        return
    if "postgresql" not in _backends():
        return
    try:
        _postgres.start()
        _postgres.prepare_template()
        os.environ["LINLI_TEST_POSTGRES_URL"] = _postgres.url or ""
    except (PostgresUnavailable, OSError) as exc:
        _postgres_missing = str(exc)
        os.environ["LINLI_TEST_POSTGRES_MISSING"] = _postgres_missing
        if os.environ.get("LINLI_REQUIRE_POSTGRES") == "1":
            raise pytest.UsageError(f"LINLI_REQUIRE_POSTGRES=1 but {exc}") from exc


def _backends() -> list[str]:
    """The databases this run covers (LINLI_TEST_BACKENDS: both unless it names one)."""
    chosen = os.environ.get("LINLI_TEST_BACKENDS", ",".join(BACKENDS))
    return [kind for kind in BACKENDS if kind in chosen]


def pytest_sessionfinish(session: pytest.Session) -> None:
    _postgres.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_kind" in metafunc.fixturenames:
        once = (metafunc.definition.get_closest_marker("no_storage")
                or metafunc.definition.get_closest_marker("sqlite_only"))
        kinds = ["sqlite"] if once else _backends()
        if metafunc.definition.get_closest_marker("postgres_only"):
            kinds = ["postgresql"]
        metafunc.parametrize("backend_kind", kinds, scope="function")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL server the PostgreSQL half is not run, and says so (never a
    skip: LINLI_REQUIRE_POSTGRES=1, as CI sets, makes a missing server an error)."""
    if _postgres_missing is None:
        return
    kept = [i for i in items if "[postgresql" not in i.nodeid and "-postgresql" not in i.nodeid]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    if _postgres_missing is not None:
        return f"PostgreSQL half NOT RUN: {_postgres_missing}"
    if _postgres.url is None:
        return "databases: SQLite only (LINLI_TEST_BACKENDS)"
    where = "a throwaway cluster" if _postgres.own else "LINLI_TEST_POSTGRES_URL"
    return f"databases: SQLite and PostgreSQL ({where})"


@pytest.fixture(autouse=True)
def _database(backend_kind: str) -> Iterator[backend.Backend]:
    """The database of this test's run: SQLite, or PostgreSQL (a fresh database)."""
    current = backend.Backend(backend_kind, _postgres if backend_kind == "postgresql" else None)
    backend.current = current
    try:
        yield current
    finally:
        current.drop()
        backend.current = backend.Backend("sqlite")


@pytest.fixture(autouse=True)
async def _report_a_stuck_test(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """A test stuck in an await prints where every task of its loop waits, then fails."""
    loop = asyncio.get_running_loop()
    done = threading.Event()

    def watch() -> None:
        if done.wait(STUCK_AFTER):
            return
        out = io.StringIO()
        for task in asyncio.all_tasks(loop):
            task.print_stack(limit=12, file=out)
        sys.stderr.write(f"\n{request.node.nodeid} stuck; its tasks:\n{out.getvalue()}\n")
        sys.stderr.flush()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own LINLI_* variables must not leak into the tests."""
    for name in list(os.environ):
        if name.startswith("LINLI_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def linli(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[BotHarness]:
    harness = BotHarness(tg, tmp_path)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
