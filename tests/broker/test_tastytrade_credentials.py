"""tastytrade credentials (environment, private secrets file) and `starter.py broker check`.

No credential value may show up in a repr, an error or the check's output;
account numbers are masked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers.fake_tastytrade.app import FakeTastytrade
from tests.helpers.fake_tastytrade.checks import error_text
from tests.helpers.fake_tastytrade.faults import HttpFault
from ttai.broker.base import BrokerAuthError
from ttai.broker.credentials import TastytradeCredentials, load_credentials
from ttai.broker.tastytrade.broker import TastytradeBroker
from ttai.cli import broker as broker_cli
from ttai.cli.common import CliError


def test_credentials_repr_hides_values() -> None:
    creds = TastytradeCredentials("the-provider-secret", "the-refresh-token", is_test=True)
    assert "the-provider-secret" not in repr(creds) and "the-refresh-token" not in str(creds)


# -- credentials -------------------------------------------------------------------------


def test_credentials_from_environment() -> None:
    env = {"TT_PROVIDER_SECRET": "s", "TT_REFRESH_TOKEN": "r", "TT_SANDBOX": "1"}
    assert load_credentials(env) == TastytradeCredentials("s", "r", is_test=True)
    assert load_credentials({}) is None
    with pytest.raises(BrokerAuthError, match="TT_REFRESH_TOKEN is not set"):
        load_credentials({"TT_PROVIDER_SECRET": "s"})


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("tt.json", '{"provider_secret": "fs", "refresh_token": "fr", "sandbox": true}'),
        ("tt.toml", 'provider_secret = "fs"\nrefresh_token = "fr"\nsandbox = true\n'),
    ],
)
def test_credentials_from_private_file(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o600)
    env = {"TTAI_TASTYTRADE_SECRETS_FILE": str(path)}
    assert load_credentials(env) == TastytradeCredentials("fs", "fr", is_test=True)
    # The environment wins over the file.
    both = {**env, "TT_PROVIDER_SECRET": "es", "TT_REFRESH_TOKEN": "er"}
    assert load_credentials(both) == TastytradeCredentials("es", "er")


def test_readable_secrets_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tt.json"
    path.write_text('{"provider_secret": "fs", "refresh_token": "fr"}')
    path.chmod(0o644)
    with pytest.raises(BrokerAuthError, match="chmod 600"):
        load_credentials({"TTAI_TASTYTRADE_SECRETS_FILE": str(path)})


def test_broken_secrets_file_is_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "tt.json"
    path.write_text('{"provider_secret": "very-secret-value", ')
    os.chmod(path, 0o600)
    with pytest.raises(BrokerAuthError, match="not valid JSON") as err:
        load_credentials({"TTAI_TASTYTRADE_SECRETS_FILE": str(path)})
    assert "very-secret-value" not in error_text(err.value)


def test_from_environment_without_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TT_PROVIDER_SECRET", "TT_REFRESH_TOKEN", "TTAI_TASTYTRADE_SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert TastytradeBroker.from_environment() is None


# -- broker check ------------------------------------------------------------------------


def test_mask_account() -> None:
    assert broker_cli.mask_account("5WT00012") == "5WT•••12"
    assert broker_cli.mask_account("1234") == "•••34"


async def test_broker_check_lists_masked_accounts(
    fake: FakeTastytrade, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await broker_cli.check(fake.broker) == 0
    out = capsys.readouterr().out
    assert "5WT•••12" in out and "5WT•••34" in out and "sandbox" in out
    assert "5WT00012" not in out
    assert await broker_cli.check(fake.broker, as_json=True) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [a["account"] for a in listed["accounts"]] == ["5WT•••12", "5WT•••34"]


async def test_broker_check_errors_are_one_line(fake: FakeTastytrade) -> None:
    with pytest.raises(CliError, match="no tastytrade credentials"):
        await broker_cli.check(lambda: None)
    fake.faults.http.append(HttpFault("/oauth/token", status=401))
    with pytest.raises(CliError, match="refresh token expired or revoked") as err:
        await broker_cli.check(fake.broker)
    assert err.value.code == 2 and "\n" not in str(err.value)
