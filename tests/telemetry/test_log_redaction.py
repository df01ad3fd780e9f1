"""Log redaction: every secret from every source stays out of every log line.

Sources: the tastytrade secrets file and the encryption keys file (their
contents, not their paths), TT_* variables, tokens inside notification URLs,
database passwords (also ones containing '@'), and secrets that JSON or repr
escaping would change. Harmless values are never registered. Apprise's
logger is held at INFO, and uncaught tracebacks and SystemExit messages go
through the formatter too.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ttai.broker.credentials import load_credentials
from ttai.config import PROJECT_ROOT
from ttai.loopback import free_port
from ttai.telemetry.logs import HELD_LOGGERS, HTTP_LOGGERS, StructuredFormatter, configure_logging
from ttai.telemetry.redaction import Redactor
from ttai.temporal.codec import codec_from_env

TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
DISCORD_ID, DISCORD_TOKEN = "1234567890123456789", "AbCdEfGh1jKlMnOpQrStUv_wx-YZ0987654321"
SLACK = ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ")


def _line(msg: str, env: dict[str, str], *, as_json: bool = False, exc: bool = False) -> str:
    record = logging.makeLogRecord(
        {"name": "ttai.test", "levelname": "WARNING", "levelno": logging.WARNING, "msg": msg}
    )
    if exc:
        try:
            raise ValueError(msg)
        except ValueError:
            record.exc_info = sys.exc_info()
    formatter = StructuredFormatter(as_json=as_json, redactor=Redactor(env))
    return formatter.format(record)


@pytest.mark.parametrize("as_json", [False, True])
def test_tokens_inside_notification_urls_are_redacted(as_json: bool) -> None:
    env = {
        "TTAI_NOTIFY_URLS": (
            f"tgram://{TELEGRAM_TOKEN}/-1001234567 discord://{DISCORD_ID}/{DISCORD_TOKEN} "
            f"slack://{'/'.join(SLACK)}/#general json://hooks.example.com/notify"
        )
    }
    messages = [
        f"Telegram POST URL: https://api.telegram.org/bot{TELEGRAM_TOKEN}/sendMessage",
        f"Discord POST URL: https://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}",
        f"Slack POST URL: https://hooks.slack.com/services/{'/'.join(SLACK)}",
        f"configured {env['TTAI_NOTIFY_URLS']}",
    ]
    for msg in messages:
        line = _line(msg, env, as_json=as_json)
        for secret in (TELEGRAM_TOKEN, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", DISCORD_TOKEN, *SLACK):
            assert secret not in line, (secret, line)
        assert "[REDACTED]" in line
    # Only tokens go: harmless parts of the URLs and messages stay readable.
    line = _line(messages[0] + " for notify_analysis", env)
    assert "api.telegram.org" in line and "notify_analysis" in line
    assert "hooks.example.com/notify" in _line(messages[3], env)


@pytest.mark.parametrize(
    ("password", "url"),
    [
        ("p@ss", "postgresql://ttai:p@ss@db:5432/ttai"),
        ("hunter2-is-long", "postgresql://ttai:hunter2-is-long@db:5432/ttai?sslmode=disable"),
        ("p@ss/w:rd", "postgres://ttai:p@ss/w:rd@db:5432/ttai"),
    ],
)
def test_database_passwords_are_redacted_structurally(password: str, url: str) -> None:
    env = {"DATABASE_URL": url}
    for msg in (f"connecting to {url}", f"dsn='{url}' failed", f"{url}"):
        line = _line(msg, env)
        assert password not in line, line
        assert "@ss" not in line and "ss@db" not in line, line
        assert "db:5432" in line, line  # the host survives, the password does not
        assert "ttai" in line


def test_secrets_files_contents_are_redacted(tmp_path: Path) -> None:
    secrets = tmp_path / "tt.json"
    provider, refresh = "ps-8c1d3e0f7a9b2c4d", "rt-Zq8Wv7Ut6Sr5Qp4On3Ml2Kj1"
    secrets.write_text(json.dumps({"provider_secret": provider, "refresh_token": refresh}))
    secrets.chmod(0o600)
    keys = tmp_path / "keys.txt"
    key_b64 = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="
    keys.write_text(f"# rotated 2026-11\nk1:{key_b64}\n")
    keys.chmod(0o600)
    env = {"TTAI_TASTYTRADE_SECRETS_FILE": str(secrets), "TTAI_ENCRYPTION_KEYS_FILE": str(keys)}
    line = _line(f"oauth failed: secret={provider!r} token {refresh} key {key_b64}", env)
    for secret in (provider, refresh, key_b64):
        assert secret not in line
    assert "keys.txt" in _line(f"reading {keys}", env)  # paths are not secrets


def test_secrets_loaded_by_components_are_registered(tmp_path: Path) -> None:
    """The default redactor (what configure_logging installs) knows what the
    credentials and key loaders read, whatever the environment says later."""
    secrets = tmp_path / "tt.toml"
    provider, refresh = "file-ps-7a9b2c4d8c1d3e0f", "file-rt-Kj1Ml2On3Qp4Sr5"
    secrets.write_text(f'provider_secret = "{provider}"\nrefresh_token = "{refresh}"\n')
    secrets.chmod(0o600)
    assert load_credentials({"TTAI_TASTYTRADE_SECRETS_FILE": str(secrets)}) is not None
    keys = tmp_path / "keys.txt"
    key_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    keys.write_text(f"kfile:{key_b64}\n")
    keys.chmod(0o600)
    assert codec_from_env({"TTAI_ENCRYPTION_KEYS_FILE": str(keys)}) is not None
    formatter = StructuredFormatter(redactor=Redactor())
    record = logging.makeLogRecord(
        {"name": "x", "levelname": "ERROR", "msg": f"{provider} {refresh} {key_b64}"}
    )
    line = formatter.format(record)
    for secret in (provider, refresh, key_b64):
        assert secret not in line


def test_tt_variables_are_secrets() -> None:
    env = {"TT_PROVIDER_SECRET": "tt-provider-0123456789", "TT_ACCOUNT_HINT": "5WT0001234"}
    line = _line("using tt-provider-0123456789 for account 5WT0001234", env)
    assert "tt-provider-0123456789" not in line and "5WT0001234" not in line


@pytest.mark.parametrize(
    "secret",
    ['quote"d-secret-42', "back\\slash-secret-42", "ünï-cødé-sécret-€42", "tab\tsecret-42"],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_escaped_secrets_stay_redacted(secret: str, as_json: bool) -> None:
    env = {"TTAI_CODEC_TOKEN": secret}
    for line in (
        _line(f"token is {secret} here", env, as_json=as_json),
        _line(f"payload {json.dumps({'t': secret})} and repr {secret!r}", env, as_json=as_json),
        _line(f"raised for {secret}", env, as_json=as_json, exc=True),
    ):
        assert "[REDACTED]" in line
        for form in (secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]):
            assert form not in line, (form, line)
        if as_json:
            parsed = json.loads(line)
            assert secret not in parsed["msg"]
            assert secret not in parsed.get("exc", "")


def test_harmless_values_are_not_registered() -> None:
    env = {
        "TTAI_REFRESH_ON_START": "false",
        "GIT_TOKEN_ENABLED": "1",
        "PASSWORD_STORE_DIR": "yes",
        "TTAI_CODEC_TOKEN": "",
        "TT_SANDBOX": "1",
    }
    line = _line("flag enabled=false, retries 1, answer yes, sandbox 1", env)
    assert "[REDACTED]" not in line
    assert "enabled=false" in line and "answer yes" in line


def test_credential_printing_loggers_are_held() -> None:
    """At DEBUG the SDKs stay at INFO; at INFO the HTTP clients' request lines
    (URLs with the account number or a channel's token) stay out."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = (sys.excepthook, threading.excepthook)
    # Put back too: an httpx2 left at INFO puts request URLs into later tests' caplog.
    held = {name: logging.getLogger(name).level for name in HELD_LOGGERS + HTTP_LOGGERS}
    try:
        configure_logging("DEBUG")
        for name in ("apprise", "tastytrade", "urllib3", "httpx2"):
            assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
        assert logging.getLogger("ttai").isEnabledFor(logging.DEBUG)
        configure_logging("INFO")
        assert logging.getLogger("tastytrade").isEnabledFor(logging.INFO)
        for name in HTTP_LOGGERS:
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
            assert logging.getLogger(name).isEnabledFor(logging.WARNING), name
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, held_level in held.items():
            logging.getLogger(name).setLevel(held_level)
        sys.excepthook, threading.excepthook = hooks
        logging.captureWarnings(False)


def _run(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("TTAI_", "TT_"))}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_apprise_debug_logs_of_a_failing_channel_leak_nothing() -> None:
    """A real json:// channel on a closed port, at DEBUG: no password, no path token."""
    url = f"json://hookuser:S3cretPassw0rd@127.0.0.1:{free_port()}/hooks/Tok3nPathSegment99"
    script = (
        "import asyncio\n"
        "from ttai.config import Settings\n"
        "from ttai.models.notifications import Notification\n"
        "from ttai.notify.channels import channels_from_urls\n"
        "from ttai.telemetry.logs import configure_logging\n"
        "configure_logging()\n"
        "import logging; logging.getLogger('apprise').warning('url %s', Settings.from_env())\n"
        "note = Notification(idempotency_key='k', kind='t', title='t', body='b')\n"
        "async def main():\n"
        "    urls = Settings.from_env().notify_urls\n"
        "    for channel in channels_from_urls(urls, key=b'test-channel-key-0123'):\n"
        "        try:\n"
        "            await channel.send(note)\n"
        "        except Exception as err:\n"
        "            logging.getLogger('ttai.test').warning('failed %s %r', err, err)\n"
        "asyncio.run(main())\n"
    )
    done = _run(script, TTAI_LOG_LEVEL="DEBUG", TTAI_NOTIFY_URLS=url)
    assert done.returncode == 0, done.stderr
    assert "S3cretPassw0rd" not in done.stderr
    assert "Tok3nPathSegment99" not in done.stderr
    assert "failed" in done.stderr


def test_uncaught_tracebacks_go_through_the_formatter() -> None:
    secret = "uncaught-secret-4f9a2b7c"
    script = (
        "from ttai.telemetry.logs import configure_logging\n"
        "configure_logging(as_json=True)\n"
        f"raise RuntimeError('boom with ' + {secret!r})\n"
    )
    done = _run(script, TTAI_CODEC_TOKEN=secret)
    assert done.returncode == 1
    assert secret not in done.stderr
    [line] = done.stderr.strip().splitlines()  # one JSON line, the traceback inside it
    record = json.loads(line)
    assert record["level"] == "critical"
    assert "RuntimeError: boom with [REDACTED]" in record["exc"]


def test_system_exit_messages_go_through_the_formatter() -> None:
    script = (
        "import sys\n"
        "from ttai.telemetry.logs import configure_logging, run_main\n"
        "def main():\n"
        "    configure_logging()\n"
        "    sys.exit('cannot start: postgresql://ttai:p@ss-w0rd@db:5432/ttai refused')\n"
        "run_main(main)\n"
    )
    done = _run(script)
    assert done.returncode == 1
    assert "p@ss-w0rd" not in done.stderr and "ss-w0rd" not in done.stderr
    assert "level=error" in done.stderr and "db:5432" in done.stderr


def test_worker_entry_point_routes_errors_through_the_formatter() -> None:
    """`python worker.py` with a password-bearing DATABASE_URL and no Temporal."""
    done = subprocess.run(
        [sys.executable, "worker.py"],
        cwd=PROJECT_ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("TTAI_", "TEMPORAL_"))},
            "DATABASE_URL": "postgresql://ttai:w0rker-p@ss@127.0.0.1:1/ttai",
            "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "w0rker-p@ss" not in done.stderr and "@ss@" not in done.stderr
    for line in done.stderr.strip().splitlines():
        assert line.startswith("ts="), line  # every line came through the formatter
