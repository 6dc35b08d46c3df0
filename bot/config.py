"""Configuration from environment variables (and an optional ``.env`` file).

Every setting is read in one place, validated, and reported with a clear message when it is
malformed, so a misconfigured deployment fails at start-up rather than mid-conversation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = PROJECT_ROOT / "data" / "infoshare.db"


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and what is wrong."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    web_chat_enabled: bool = True  # default: on when listening on loopback only (it has no sign-in)
    port: int = 3978
    database_url: str = f"sqlite:///{DEFAULT_DB_PATH}"
    content_dir: Path = PROJECT_ROOT / "content"
    log_level: str = "INFO"
    log_format: str = "auto"  # "json", "text", or "auto": readable lines at a terminal, JSON lines otherwise
    timezone: str = "Europe/London"
    walkthrough_expiry_minutes: int = 120
    max_message_chars: int = 4000
    max_body_bytes: int = 256 * 1024
    header_timeout_seconds: int = 20  # a request's headers must arrive within this (slowloris)
    body_timeout_seconds: int = 20  # and its body within this after the headers
    max_connections: int = 512  # open client connections; more are answered 503 and closed
    public_hosts: tuple[str, ...] = ()  # Host names besides loopback the server answers to (PUBLIC_HOST)
    web_trusted_user_header: str | None = None  # set only behind an SSO proxy that always sets it
    retention_days: int = 30
    record_retention_days: int = 2555  # about seven years, a common case-record period
    admins: tuple[str, ...] = ()
    reminder_lead_days: tuple[int, ...] = (30, 7, 0)
    reminder_grace_hours: int = 24  # reminders missed (downtime) by longer than this are skipped, not sent late
    skip_bank_holidays: bool = False
    bank_holiday_region: str = "England"
    scheduler_enabled: bool = True
    # Slack
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_base_url: str | None = None
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_app_id: str | None = None  # when set, payloads for another app id are refused
    slack_token_key: str | None = None  # Fernet key encrypting OAuth-installed bot tokens at rest
    # Teams / Bot Framework (names as in Microsoft's samples)
    microsoft_app_id: str | None = None
    microsoft_app_password: str | None = None
    microsoft_app_type: str = "MultiTenant"
    microsoft_app_tenant_id: str | None = None
    allowed_tenants: tuple[str, ...] = ()  # MultiTenant: the only tenants answered (empty = any)
    teams_openid_metadata_url: str | None = None  # unset = Microsoft's; tests point it at loopback
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_signing_secret and (self.slack_bot_token or self.slack_oauth))

    @property
    def slack_oauth(self) -> bool:
        """Installed to many workspaces with Slack's OAuth flow (no single bot token)."""
        return bool(self.slack_client_id and self.slack_client_secret and not self.slack_bot_token)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _list(env: dict[str, str], name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def load_settings(environ: dict[str, str] | None = None, env_file: Path | None = None) -> Settings:
    """Build settings from ``.env`` (if present) overlaid by the real environment."""
    env: dict[str, str] = {}
    dotenv_path = env_file or PROJECT_ROOT / ".env"
    if dotenv_path.exists():
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ if environ is None else environ)

    timezone = env.get("TIMEZONE", "Europe/London")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"TIMEZONE must be an IANA zone such as Europe/London, got {timezone!r}") from None

    app_type = env.get("MicrosoftAppType") or "MultiTenant"
    if app_type not in {"SingleTenant", "MultiTenant", "UserAssignedMSI"}:
        raise ConfigError(
            f"MicrosoftAppType must be SingleTenant, MultiTenant or UserAssignedMSI, got {app_type!r}"
        )
    if app_type == "SingleTenant" and env.get("MicrosoftAppId") and not env.get("MicrosoftAppTenantId"):
        raise ConfigError("MicrosoftAppTenantId is required when MicrosoftAppType is SingleTenant")

    lead_raw = _list(env, "REMINDER_LEAD_DAYS")
    try:
        lead_days = tuple(int(x) for x in lead_raw) if lead_raw else (30, 7, 0)
    except ValueError:
        raise ConfigError(f"REMINDER_LEAD_DAYS must be comma-separated whole numbers, got {lead_raw!r}") from None

    database_url = env.get("DATABASE_URL") or f"sqlite:///{DEFAULT_DB_PATH}"
    if not database_url.startswith(("sqlite", "postgres")):
        raise ConfigError(
            "DATABASE_URL must be sqlite:///path/to.db or postgresql://user@host:5432/db, "
            f"got {database_url.split(':', 1)[0]}://..."
        )
    log_level = env.get("LOG_LEVEL", "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")

    log_format = env.get("LOG_FORMAT", "auto").lower() or "auto"
    if log_format not in {"auto", "json", "text"}:
        raise ConfigError(f"LOG_FORMAT must be json, text or auto, got {log_format!r}")

    host = env.get("HOST", "127.0.0.1")
    return Settings(
        host=host,
        web_chat_enabled=_bool(env, "WEB_CHAT_ENABLED", host in LOOPBACK_HOSTS),
        port=_int(env, "PORT", 3978, minimum=0),
        database_url=database_url,
        content_dir=Path(env.get("CONTENT_DIR") or PROJECT_ROOT / "content"),
        log_level=log_level,
        log_format=log_format,
        timezone=timezone,
        walkthrough_expiry_minutes=_int(env, "WALKTHROUGH_EXPIRY_MINUTES", 120, minimum=1),
        max_message_chars=_int(env, "MAX_MESSAGE_CHARS", 4000, minimum=100),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", 256 * 1024, minimum=1024),
        header_timeout_seconds=_int(env, "HEADER_TIMEOUT_SECONDS", 20, minimum=1),
        body_timeout_seconds=_int(env, "BODY_TIMEOUT_SECONDS", 20, minimum=1),
        max_connections=_int(env, "MAX_CONNECTIONS", 512, minimum=1),
        public_hosts=tuple(h.lower() for h in _list(env, "PUBLIC_HOST")),
        web_trusted_user_header=env.get("WEB_TRUSTED_USER_HEADER") or None,
        retention_days=_int(env, "RETENTION_DAYS", 30, minimum=1),
        record_retention_days=_int(env, "RECORD_RETENTION_DAYS", 2555, minimum=1),
        admins=_list(env, "ADMINS"),
        reminder_lead_days=lead_days,
        reminder_grace_hours=_int(env, "REMINDER_GRACE_HOURS", 24, minimum=0),
        skip_bank_holidays=_bool(env, "SKIP_BANK_HOLIDAYS", False),
        bank_holiday_region=env.get("BANK_HOLIDAY_REGION", "England"),
        scheduler_enabled=_bool(env, "SCHEDULER_ENABLED", True),
        slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
        slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
        slack_app_token=env.get("SLACK_APP_TOKEN") or None,
        slack_api_base_url=env.get("SLACK_API_BASE_URL") or None,
        slack_client_id=env.get("SLACK_CLIENT_ID") or None,
        slack_client_secret=env.get("SLACK_CLIENT_SECRET") or None,
        slack_app_id=env.get("SLACK_APP_ID") or None,
        slack_token_key=env.get("SLACK_TOKEN_KEY") or None,
        microsoft_app_id=env.get("MicrosoftAppId") or None,
        microsoft_app_password=env.get("MicrosoftAppPassword") or None,
        microsoft_app_type=app_type,
        microsoft_app_tenant_id=env.get("MicrosoftAppTenantId") or None,
        allowed_tenants=_list(env, "ALLOWED_TENANTS"),
        teams_openid_metadata_url=env.get("TEAMS_OPENID_METADATA_URL") or None,
    )
