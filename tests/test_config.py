"""Configuration: defaults, overrides, and a clear message for each malformed value."""

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings


def settings_from(env: dict[str, str], tmp_path: Path):
    return load_settings(environ=env, env_file=tmp_path / "absent.env")


def test_defaults_serve_loopback_on_3978_with_sqlite(tmp_path):
    settings = settings_from({}, tmp_path)
    assert (settings.host, settings.port) == ("127.0.0.1", 3978)
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("data/infoshare.db")
    assert not settings.slack_enabled


def test_env_file_is_read_and_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=4000\nLOG_LEVEL=debug\n")
    settings = load_settings(environ={"PORT": "5000"}, env_file=env_file)
    assert settings.port == 5000
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "eighty"}, "PORT must be a whole number"),
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE must be an IANA zone"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must be"),
        ({"MicrosoftAppType": "Other"}, "MicrosoftAppType must be"),
        ({"MicrosoftAppType": "SingleTenant", "MicrosoftAppId": "x"}, "MicrosoftAppTenantId is required"),
        ({"SKIP_BANK_HOLIDAYS": "maybe"}, "SKIP_BANK_HOLIDAYS must be true or false"),
        ({"REMINDER_LEAD_DAYS": "30,soon"}, "REMINDER_LEAD_DAYS must be"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL must be"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be json, text or auto"),
        ({"RETENTION_DAYS": "0"}, "RETENTION_DAYS must be at least 1"),
    ],
)
def test_malformed_values_are_named(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        settings_from(env, tmp_path)


def test_slack_enabled_needs_both_secrets(tmp_path):
    assert not settings_from({"SLACK_BOT_TOKEN": "xoxb-1"}, tmp_path).slack_enabled
    assert settings_from({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, tmp_path).slack_enabled


def test_server_refuses_to_start_on_bad_config(tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "app.py"], cwd=root, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "PORT": "not-a-port", "HOME": str(tmp_path)})
    assert result.returncode == 2
    assert "Configuration error: PORT must be a whole number" in result.stderr
    assert "Traceback" not in result.stderr


def test_web_chat_is_off_by_default_when_not_on_loopback(tmp_path):
    assert settings_from({}, tmp_path).web_chat_enabled
    assert not settings_from({"HOST": "0.0.0.0"}, tmp_path).web_chat_enabled
    assert settings_from({"HOST": "0.0.0.0", "WEB_CHAT_ENABLED": "true"}, tmp_path).web_chat_enabled
