"""Settings: environment over TOML, durations, and problems named by key."""

from __future__ import annotations

import subprocess
import sys
from datetime import time, timedelta
from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


def test_defaults_follow_the_spec() -> None:
    s = load_settings()
    assert s.timezone == "Asia/Shanghai" and s.language == "zh"
    assert s.deadlines.acknowledge["grid"] == timedelta(hours=2)
    assert s.deadlines.resolve["community"] == timedelta(days=5)
    assert s.deadlines.category["safety"].acknowledge == timedelta(minutes=30)
    assert s.quiet_hours.start == time(22) and s.quiet_hours.enabled
    assert s.reports.rating_window == timedelta(days=3)
    assert [lv.key for lv in s.levels] == ["community", "compound", "building", "grid"]


def test_toml_file_with_env_winning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "linli.toml"
    path.write_text(
        'timezone = "Europe/Berlin"\nadmin_ids = [7]\nlanguage = "en"\n'
        '[deadlines.acknowledge]\ngrid = 90\n[deadlines.resolve]\nbuilding = "PT36H"\n'
        '[quiet_hours]\nstart = "08:00"\nend = "08:00"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("LINLI_CONFIG", str(path))
    monkeypatch.setenv("LINLI_LANGUAGE", "zh")
    monkeypatch.setenv("LINLI_ADMIN_IDS", "1, 2,3")
    s = load_settings()
    assert s.timezone == "Europe/Berlin"
    assert s.language == "zh"  # env wins
    assert s.admin_ids == [1, 2, 3]
    assert s.deadlines.acknowledge["grid"] == timedelta(seconds=90)
    assert s.deadlines.acknowledge["building"] == timedelta(hours=4)  # default kept
    assert s.deadlines.resolve["building"] == timedelta(hours=36)
    assert not s.quiet_hours.enabled


def test_every_problem_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[deadlines.acknowledge]\ngrid = "soon"\n[quiet_hours]\nstart = "25:00"\ncolour = 1\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("LINLI_CONFIG", str(path))
    monkeypatch.setenv("LINLI_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    keys = [key for key, _ in caught.value.problems]
    assert "deadlines.acknowledge.grid" in keys
    assert "quiet_hours.start" in keys
    assert "quiet_hours.colour" in keys
    assert any("LINLI_TIMEZONE" in key for key in keys)


def test_missing_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_CONFIG", "/nonexistent/linli.toml")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.problems[0][0] == "LINLI_CONFIG"


def test_example_config_documents_defaults() -> None:
    example = Path(__file__).parent.parent / "config" / "linli.example.toml"
    s = load_settings(config=example)
    default = load_settings()
    assert s.deadlines == default.deadlines
    assert s.reports.categories == default.reports.categories
    assert s.quiet_hours == default.quiet_hours


def test_cli_check_exits_2_without_traceback(tmp_path: Path) -> None:
    env = {"LINLI_TIMEZONE": "Nowhere/Special", "PATH": "/usr/bin:/bin",
           "LINLI_DATABASE": str(tmp_path / "x.db")}
    done = subprocess.run([sys.executable, "-m", "bot", "check"], env=env, capture_output=True,
                          text=True, cwd=Path(__file__).parent.parent, timeout=60)
    assert done.returncode == 2
    assert "LINLI_TIMEZONE" in done.stderr
    assert "Traceback" not in done.stderr


def test_working_time_deadlines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.core.workcal import WorkingHours, WorkingTime

    path = tmp_path / "linli.toml"
    path.write_text(
        '[deadlines.resolve]\ngrid = "2WD"\n[deadlines.category.service]\nacknowledge = "4WH"\n'
        '[services]\ncare_overdue = "1wd"\n'
        '[calendar]\nworking_hours = "09:00-12:00, 14:00-18:00"\n',
        encoding="utf-8")
    monkeypatch.setenv("LINLI_CONFIG", str(path))
    s = load_settings()
    assert s.deadlines.resolve["grid"] == WorkingTime(days=2)
    assert s.deadlines.resolve["building"] == timedelta(days=2)  # calendar time still
    assert s.deadlines.category["service"].acknowledge == WorkingTime(hours=4)
    assert s.services.care_overdue == WorkingTime(days=1)
    assert s.calendar.working_hours == WorkingHours(((time(9), time(12)), (time(14), time(18))))
    assert s.calendar.working_hours.day_length == timedelta(hours=7)


@pytest.mark.parametrize(("key", "toml", "complaint"), [
    ("deadlines.resolve.grid", '[deadlines.resolve]\ngrid = "0WD"\n', "2WD or 4WH"),
    ("deadlines.resolve.grid", '[deadlines.resolve]\ngrid = "2.5WD"\n', "2WD or 4WH"),
    ("deadlines.category.repair.resolve", '[deadlines.category.repair]\nresolve = "soon"\n',
     "working time"),
    ("calendar.working_hours", '[calendar]\nworking_hours = "13:30-12:00"\n', "in order"),
])
def test_bad_working_time_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str,
                                   toml: str, complaint: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    monkeypatch.setenv("LINLI_CONFIG", str(path))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert [(k, complaint in m) for k, m in caught.value.problems] == [(key, True)]


pytestmark = pytest.mark.no_storage
