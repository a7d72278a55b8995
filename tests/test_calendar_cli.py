"""`linli calendar import/show/add` and `linli check`'s warning about next year, with the
commands' clock set (in-process: main() takes the clock the commands see)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.core.clock import FrozenClock
from tests.backend import database_in

DEC_1_2026 = FrozenClock(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai
NOV_30_2026 = FrozenClock(datetime(2026, 11, 30, 1, 0, tzinfo=UTC))
CAL_2027 = {"year": 2027, "papers": ["https://www.gov.cn/example"], "days": [
    {"name": "元旦", "date": "2027-01-01", "isOffDay": True},
    {"name": "春节", "date": "2027-02-06", "isOffDay": False},
]}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("LINLI_CONFIG", "LINLI_ADMIN_IDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LINLI_DATABASE", str(database_in(tmp_path)))
    monkeypatch.setenv("LINLI_BOT_TOKEN", "1:x")
    return tmp_path


def test_check_warns_from_1_december_when_next_year_is_missing(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"], clock=NOV_30_2026) == 0
    assert "2027" not in capsys.readouterr().err
    assert main(["check"], clock=DEC_1_2026) == 0  # a warning, not a failure
    err = capsys.readouterr().err
    assert "no official calendar for 2027" in err and "linli calendar import" in err
    path = env / "2027.json"
    path.write_text(json.dumps(CAL_2027, ensure_ascii=False), encoding="utf-8")
    assert main(["calendar", "import", str(path)], clock=DEC_1_2026) == 0
    assert "1 holiday(s), 1 make-up working day(s)" in capsys.readouterr().out
    assert main(["check"], clock=DEC_1_2026) == 0
    assert "no official calendar" not in capsys.readouterr().err


def test_show_import_and_add(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calendar", "show", "2027"], clock=DEC_1_2026) == 0
    out = capsys.readouterr().out
    assert out.startswith("2027: not known: Monday to Friday") and "2027-01-01" not in out
    assert main(["calendar", "show", "2026"], clock=DEC_1_2026) == 0
    out = capsys.readouterr().out
    assert "2026: from its official calendar file" in out
    assert "2026-02-14 Sat  working  春节" in out and "2026-10-07 Wed  off      国庆节" in out

    assert main(["calendar", "add", "2026-07-15", "off", "台风", "停工"], clock=DEC_1_2026) == 0
    assert main(["calendar", "add", "2026-10-07", "work", "值班"], clock=DEC_1_2026) == 0
    capsys.readouterr()
    assert main(["calendar", "show", "2026"], clock=DEC_1_2026) == 0
    out = capsys.readouterr().out
    assert "2026-07-15 Wed  off      台风 停工 (local exception)" in out
    assert "2026-10-07 Wed  working  值班 (local exception)" in out

    path = env / "2027.json"
    path.write_text(json.dumps(CAL_2027, ensure_ascii=False), encoding="utf-8")
    assert main(["calendar", "import", str(path)], clock=DEC_1_2026) == 0
    capsys.readouterr()
    assert main(["calendar", "show", "2027"], clock=DEC_1_2026) == 0
    out = capsys.readouterr().out
    assert "2027: from its official calendar file" in out
    assert "2027-01-01 Fri  off      元旦" in out and "2027-02-06 Sat  working  春节" in out


@pytest.mark.parametrize(("args", "complaint"), [
    (["calendar", "add", "2026-13-01", "off", "台风"], "not a date"),
    (["calendar", "add", "2026-07-15", "off", "x" * 41], "short reason"),
    (["calendar", "import", "nowhere.json"], "no such file"),
])
def test_bad_input_changes_nothing(env: Path, capsys: pytest.CaptureFixture[str],
                                   args: list[str], complaint: str) -> None:
    assert main(args, clock=DEC_1_2026) == 2
    assert complaint in capsys.readouterr().err
    assert main(["calendar", "show", "2026"], clock=DEC_1_2026) == 0
    assert "local exception" not in capsys.readouterr().out


def test_a_bad_file_is_not_imported(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = env / "2027.json"
    path.write_text('{"year": 2027, "days": [{"name": "元旦", "date": "2027-01-32",'
                    ' "isOffDay": true}]}', encoding="utf-8")
    assert main(["calendar", "import", str(path)], clock=DEC_1_2026) == 2
    err = capsys.readouterr().err
    assert "was not imported; nothing changed" in err and "day 1" in err
    assert main(["calendar", "show", "2027"], clock=DEC_1_2026) == 0
    assert "not known" in capsys.readouterr().out
