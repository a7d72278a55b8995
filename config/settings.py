"""Linli's settings: environment variables (``LINLI_*``) over an optional TOML file.

The TOML file is named by ``LINLI_CONFIG``; its keys are the same names in lower
case without the prefix, plus the sections documented in
``config/linli.example.toml``. Environment variables win over the file.
"""

from __future__ import annotations

import os
import tomllib
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bot.core.workcal import WorkingHours, WorkingTime, parse_amount

# ten years: the longest wait anything here may name (a deadline, a care visit's cadence);
# longer ones only overflow the datetimes they are added to
MAX_DURATION = timedelta(days=3653)


def _duration(value: Any) -> Any:
    """Accept ISO-8601 durations ("PT2H", "P1D") and seconds (3600 or "3600")."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        if len(value.strip()) > 12:  # more seconds than MAX_DURATION, and than timedelta takes
            raise ValueError("too long a duration")
        return int(value.strip())
    return value


def _within_bounds(value: timedelta) -> timedelta:
    if abs(value) > MAX_DURATION:
        raise ValueError(f"at most {MAX_DURATION.days} days")
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be a positive duration")
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration), AfterValidator(_within_bounds)]
# a deadline: calendar time as above, or working time counted on the official calendar,
# "<n>WD" (working days) or "<n>WH" (working hours), e.g. "2WD" (bot/core/workcal.py)
_TIMEDELTA = TypeAdapter(timedelta)


def _deadline_amount(value: Any) -> timedelta | WorkingTime:
    value = parse_amount(value)
    if isinstance(value, WorkingTime):
        if value.days > MAX_DURATION.days or value.hours > MAX_DURATION.days * 24:
            raise ValueError(f"at most {MAX_DURATION.days} days")
        return value
    try:
        return _within_bounds(_TIMEDELTA.validate_python(_duration(value)))
    except ValidationError as exc:
        raise ValueError('not a duration: give ISO-8601 ("PT2H", "P1D"), seconds, or working'
                         ' time ("2WD", "4WH")') from exc


DeadlineAmount = Annotated[timedelta | WorkingTime, PlainValidator(_deadline_amount)]


def _positive_amount(value: timedelta | WorkingTime) -> timedelta | WorkingTime:
    return _positive(value) if isinstance(value, timedelta) else value  # WorkingTime is > 0


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(_Section):
    """One level of the organisation tree, top to bottom."""

    key: str = Field(pattern=r"^[a-z_]{1,32}$")
    role: str = Field(pattern=r"^[a-z_]{1,32}$")
    name_zh: str
    name_en: str
    title_zh: str
    title_en: str


DEFAULT_LEVELS: tuple[Level, ...] = (
    Level(key="community", role="community_admin", name_zh="社区", name_en="community",
          title_zh="社区书记", title_en="Community secretary"),
    Level(key="compound", role="area_chief", name_zh="小区", name_en="compound",
          title_zh="片长", title_en="Area chief"),
    Level(key="building", role="building_leader", name_zh="楼栋", name_en="building",
          title_zh="楼栋长", title_en="Building leader"),
    Level(key="grid", role="grid_leader", name_zh="邻里网格", name_en="grid",
          title_zh="邻长", title_en="Neighbour leader"),
)

DEFAULT_ACKNOWLEDGE = {"grid": "PT2H", "building": "PT4H", "compound": "PT8H", "community": "PT24H"}
DEFAULT_RESOLVE = {"grid": "P1D", "building": "P2D", "compound": "P3D", "community": "P5D"}


class CategoryDeadlines(_Section):
    acknowledge: DeadlineAmount | None = None
    resolve: DeadlineAmount | None = None

    @field_validator("acknowledge", "resolve")
    @classmethod
    def _check_positive(cls, v: timedelta | WorkingTime | None) -> timedelta | WorkingTime | None:
        return None if v is None else _positive_amount(v)


class Deadlines(_Section):
    acknowledge: dict[str, DeadlineAmount] = Field(default_factory=dict, validate_default=True)
    resolve: dict[str, DeadlineAmount] = Field(default_factory=dict, validate_default=True)
    category: dict[str, CategoryDeadlines] = Field(
        default_factory=lambda: {"safety": CategoryDeadlines(acknowledge=timedelta(minutes=30))}
    )

    @field_validator("acknowledge", mode="before")
    @classmethod
    def _fill_acknowledge(cls, v: dict[str, Any]) -> dict[str, Any]:
        return {**DEFAULT_ACKNOWLEDGE, **(v or {})}

    @field_validator("resolve", mode="before")
    @classmethod
    def _fill_resolve(cls, v: dict[str, Any]) -> dict[str, Any]:
        return {**DEFAULT_RESOLVE, **(v or {})}

    @field_validator("acknowledge", "resolve")
    @classmethod
    def _check_positive(cls, v: dict[str, timedelta | WorkingTime]
                        ) -> dict[str, timedelta | WorkingTime]:
        for level, value in v.items():
            if isinstance(value, timedelta) and value <= timedelta(0):
                raise ValueError(f"{level}: must be a positive duration")
        return v


DEFAULT_CATEGORIES = [
    "environment", "repair", "dispute", "safety", "service", "suggestion", "other",
]


class ReportSettings(_Section):
    categories: list[str] = Field(default_factory=lambda: list(DEFAULT_CATEGORIES), min_length=1)
    rating_window: Duration = timedelta(days=3)
    overdue_digest_time: time = time(9, 0)
    keywords: dict[str, list[str]] = Field(default_factory=dict)
    # ready resolution notes per category, offered on 办结; none given: the catalog's
    replies: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("categories")
    @classmethod
    def _categories_well_formed(cls, v: list[str]) -> list[str]:
        for name in v:
            if not name or not name.isascii() or not name.replace("_", "").isalnum():
                raise ValueError(f"category {name!r} must be a short ascii word")
        if len(set(v)) != len(v):
            raise ValueError("categories must be unique")
        if "other" not in v:
            raise ValueError('categories must include "other"')
        return v


class ReminderSettings(_Section):
    event: list[Duration] = Field(default_factory=lambda: [timedelta(days=1), timedelta(hours=1)])
    follow_up: list[Duration] = Field(default_factory=lambda: [timedelta(days=1)])


class ServiceSettings(_Section):
    help_unanswered: Duration = timedelta(hours=2)  # then a help request goes to the grid leader
    # a care visit not checked in by then escalates (working time allowed, e.g. "1WD")
    care_overdue: DeadlineAmount = timedelta(days=1)
    monthly_report_time: time = time(9, 0)  # on the 1st, local time


class CalendarSettings(_Section):
    """Working time: the hours of a working day (the days: bot/core/workcal.py)."""

    working_hours: WorkingHours = Field(default_factory=WorkingHours)

    @field_validator("working_hours", mode="before")
    @classmethod
    def _parse_hours(cls, v: Any) -> Any:
        return WorkingHours.parse(v) if isinstance(v, str) else v


class PrivacySettings(_Section):
    """Residents' personal information (PIPL): the notice /join shows before anyone is
    registered, and how long things are kept. Empty notice: the catalog's (privacy.notice)."""

    notice_zh: str | None = None
    notice_en: str | None = None
    # after a report is closed: its photos and voices removed after media_after, its text
    # (and the notes on it) after text_after; the log file's lines older than logs_after
    media_after: Duration = timedelta(days=365)
    text_after: Duration = timedelta(days=3 * 365)
    logs_after: Duration = timedelta(days=30)
    log_file: Path | None = None  # the bot's log file, if it writes one (pruned daily)

    @field_validator("media_after", "text_after", "logs_after")
    @classmethod
    def _check_positive(cls, v: timedelta) -> timedelta:
        return _positive(v)


class SpeechSettings(_Section):
    """An optional speech-to-text engine for voice reports (none by default)."""

    engine: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    options: dict[str, Any] = Field(default_factory=dict)  # given to the engine's constructor
    timeout: Duration = timedelta(seconds=30)  # a transcript later than this is not waited for


class QuietHours(_Section):
    start: time = time(22, 0)
    end: time = time(7, 0)

    @property
    def enabled(self) -> bool:
        return self.start != self.end


class WebSettings(_Section):
    """The web dashboard: off unless a port is set."""

    listen: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=0, le=65535)  # 0: any free port (tests)
    public_url: str | None = None  # how people reach it, e.g. https://linli.example.org

    @property
    def enabled(self) -> bool:
        return self.port is not None


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by ``LINLI_CONFIG`` (or the ``config`` init value)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is not None:
            with path.open("rb") as fh:
                self._data = tomllib.load(fh)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    """Every setting of a Linli deployment. See config/linli.example.toml."""

    model_config = SettingsConfigDict(env_prefix="LINLI_", extra="forbid", frozen=True)

    bot_token: SecretStr | None = None
    api_base_url: str = "https://api.telegram.org/bot"
    api_base_file_url: str = "https://api.telegram.org/file/bot"
    database: Path | str = Path("linli.db")  # an SQLite file, or a postgresql:// URL
    timezone: str = "Asia/Shanghai"
    language: Literal["zh", "en"] = "zh"
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    config: Path | None = None
    webhook_url: str | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_secret: SecretStr | None = None

    levels: list[Level] = Field(default_factory=lambda: list(DEFAULT_LEVELS), min_length=1)
    deadlines: Deadlines = Field(default_factory=Deadlines)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    reminders: ReminderSettings = Field(default_factory=ReminderSettings)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    services: ServiceSettings = Field(default_factory=ServiceSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    web: WebSettings = Field(default_factory=WebSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        init_path = init_settings().get("config")
        env_path = os.environ.get("LINLI_CONFIG")
        path = Path(init_path or env_path) if (init_path or env_path) else None
        return (init_settings, env_settings, _ConfigFileSource(settings_cls, path))

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_admin_ids(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [part.strip() for part in v.replace(";", ",").split(",") if part.strip()]
        if isinstance(v, int):
            return [v]
        return v

    @field_validator("database", mode="before")
    @classmethod
    def _file_or_url(cls, v: Any) -> Any:
        """A postgresql:// (or postgres://) URL names a server; anything else an SQLite file."""
        if isinstance(v, str) and v.startswith(("postgresql://", "postgres://")):
            return v
        return Path(v) if isinstance(v, str) else v

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("webhook_url")
    @classmethod
    def _https_webhook(cls, v: str | None) -> str | None:
        if v and not v.startswith("https://"):
            raise ValueError("must start with https://")
        return v or None

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        level_keys = [lv.key for lv in self.levels]
        if len(set(level_keys)) != len(level_keys):
            raise ValueError("levels: keys must be unique")
        roles = [lv.role for lv in self.levels]
        if len(set(roles)) != len(roles):
            raise ValueError("levels: roles must be unique")
        for section, mapping in (
            ("deadlines.acknowledge", self.deadlines.acknowledge),
            ("deadlines.resolve", self.deadlines.resolve),
        ):
            # the defaults fill in the default level keys; with custom levels they linger
            unknown = set(mapping) - set(level_keys) - set(DEFAULT_ACKNOWLEDGE)
            if unknown:
                raise ValueError(f"{section}: unknown level(s) {', '.join(sorted(unknown))}")
            missing = set(level_keys) - set(mapping)
            if missing:
                names = ", ".join(sorted(missing))
                raise ValueError(f"{section}: no deadline for level(s) {names}")
        for name in (*self.deadlines.category, *self.reports.keywords):
            if name not in self.reports.categories:
                raise ValueError(f"unknown report category {name!r}")
        return self

    # -- derived values -------------------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def level_keys(self) -> list[str]:
        return [lv.key for lv in self.levels]

    def level(self, key: str) -> Level:
        for lv in self.levels:
            if lv.key == key:
                return lv
        raise KeyError(key)

    def level_of_role(self, role: str) -> Level | None:
        return next((lv for lv in self.levels if lv.role == role), None)

    def is_bootstrap_admin(self, user_id: int) -> bool:
        return user_id in self.admin_ids


class SettingsError(Exception):
    """Settings that cannot be used; ``problems`` are (key, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{k}: {m}" for k, m in problems))
        self.problems = problems


_ENV_NAMES = {name: f"LINLI_{name.upper()}" for name in Settings.model_fields}


def _key_of(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "settings"
    head = str(loc[0])
    dotted = ".".join(str(part) for part in loc)
    if len(loc) == 1 and head in _ENV_NAMES:
        return f"{_ENV_NAMES[head]} ({head})"
    return dotted


def load_settings(**overrides: Any) -> Settings:
    """Load settings, raising :class:`SettingsError` with one entry per problem."""
    config_path = overrides.get("config") or os.environ.get("LINLI_CONFIG")
    if config_path and not Path(config_path).is_file():
        raise SettingsError([("LINLI_CONFIG", f"file not found: {config_path}")])
    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError([("LINLI_CONFIG", f"{config_path}: {exc}")]) from exc
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown setting"
            problems.append((_key_of(tuple(err["loc"])), message))
        raise SettingsError(problems) from exc
