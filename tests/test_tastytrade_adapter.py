"""The tastytrade adapter against the in-process fake of the tastytrade API.

Every method's mapping is compared field by field with what the fake served;
every injected fault must end in the right retryable / non-retryable error; no
credential value may show up in an error or a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import traceback
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx2
import pytest

from tests.fake_tastytrade import FakeTastytrade, HttpFault, Scenario
from tests.fake_tastytrade.scenario import occ_symbol
from ttai.analytics.pnl import day_pnl
from ttai.broker.base import (
    Broker,
    BrokerAuthError,
    BrokerError,
    BrokerSchemaError,
    BrokerUnavailable,
    UnknownSymbol,
)
from ttai.broker.credentials import TastytradeCredentials, load_credentials
from ttai.broker.tastytrade import TastytradeBroker, candle_day
from ttai.cli import broker as broker_cli
from ttai.cli.common import CliError
from ttai.models.market import Position, Quote


@pytest.fixture
def fake() -> FakeTastytrade:
    return FakeTastytrade(Scenario.small())


@pytest.fixture
async def broker(fake: FakeTastytrade) -> AsyncIterator[TastytradeBroker]:
    b = fake.broker(stream_timeout=5)
    yield b
    await b.close()


def assert_no_secrets(fake: FakeTastytrade, *texts: str) -> None:
    values = fake.secret_values()
    assert fake.access_tokens, "the fake never issued a token: the check would be empty"
    for text in texts:
        for value in values:
            assert value not in text


def error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


# -- mapping -----------------------------------------------------------------------------


@pytest.mark.xfail(
    not hasattr(TastytradeBroker, "get_fills"),
    reason="Broker.get_fills (issue 13 #3) is implemented by the `tastytrade` branch",
    strict=True,
)
async def test_is_a_broker(broker: TastytradeBroker) -> None:
    assert isinstance(broker, Broker)
    assert broker.name == "tastytrade"


async def test_accounts(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    accounts = await broker.get_accounts()
    assert [(a.account_number, a.nickname) for a in accounts] == [
        (a.account_number, a.nickname) for a in fake.scenario.accounts
    ]
    assert all(a.is_paper for a in accounts)  # sandbox credentials


async def test_quotes_map_every_field(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    quotes = await broker.get_quotes(["AAPL", "BRK.B"])
    assert quotes == fake.scenario.quotes
    # Class shares go to the API as BRK/B and come back under the caller's name.
    assert fake.requests[-1].query_params.getlist("equity") == ["AAPL", "BRK/B"]


async def test_quotes_are_chunked_at_100_symbols() -> None:
    now = Scenario.small().now
    names = [f"{a}{b}{c}" for a in "ABC" for b in "ABCDEFGHIJ" for c in "ABCDEFGHIJ"][:250]
    quotes = {
        s: Quote(symbol=s, bid=10 + i, ask=10.5 + i, last=10.2 + i, prev_close=9 + i, time=now)
        for i, s in enumerate(names)
    }
    fake = FakeTastytrade(Scenario(now=now, quotes=quotes))
    broker = fake.broker()
    try:
        assert await broker.get_quotes(names) == quotes
    finally:
        await broker.close()
    sizes = [
        len(r.query_params.getlist("equity"))
        for r in fake.requests
        if r.url.path == "/market-data/by-type"
    ]
    assert sizes == [100, 100, 50]


async def test_market_metrics_scales(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    metrics = await broker.get_market_metrics(["AAPL", "BRK.B"])
    for symbol, served in fake.scenario.metrics.items():
        got = metrics[symbol]
        # The API sends ranks as 0-1 fractions; the model holds 0-100.
        assert got.iv_rank == pytest.approx(served.iv_rank)
        assert got.iv_percentile == pytest.approx(served.iv_percentile)
        assert got.implied_volatility == pytest.approx(served.implied_volatility)
        assert got.model_dump(exclude={"iv_rank", "iv_percentile", "implied_volatility"}) == (
            served.model_dump(exclude={"iv_rank", "iv_percentile", "implied_volatility"})
        )
    assert metrics["AAPL"].next_earnings is not None


async def test_balances(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    assert await broker.get_balances() == fake.scenario.balances


async def test_positions_with_marks_and_option_details(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    positions = await broker.get_positions()
    assert positions == fake.scenario.positions
    option = next(p for p in positions if p.instrument == "option")
    assert option.quantity < 0 and option.multiplier == 100
    assert option.delta is not None and option.delta < 0  # from the streamer's Greeks


def test_day_pnl_from_marks_and_previous_closes() -> None:
    def pos(symbol: str, qty: float, mult: int, mark: float, prev: float) -> Position:
        return Position(
            account="A",
            symbol=symbol,
            underlying="AAPL",
            instrument="equity" if mult == 1 else "option",
            quantity=qty,
            average_open_price=1.0,
            multiplier=mult,
            mark=mark,
            prev_close=prev,
        )

    positions = [
        pos("AAPL", 100, 1, 11.0, 10.0),  # +100
        pos("AAPL  261218P00200000", -2, 100, 1.5, 2.0),  # short puts lost value: +100
        pos("AAPL  261218P00190000", 1, 100, 0.8, 0.0),  # no previous close: ignored
    ]
    assert day_pnl(positions) == 200.0
    assert day_pnl([]) == 0.0


async def test_day_pnl_over_adapter_positions(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    expected = sum(
        (p.mark - p.prev_close) * p.quantity * p.multiplier for p in fake.scenario.positions
    )
    assert day_pnl(await broker.get_positions()) == pytest.approx(expected, abs=0.01)


async def test_daily_candles(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    served = fake.scenario.candles["AAPL"]
    assert await broker.get_daily_candles("AAPL", 10) == served[-10:]
    assert await broker.get_daily_candles("AAPL", 1000) == served
    assert fake.contracts == ["AUTO", "AUTO"]


@pytest.mark.parametrize(
    "stamp",
    ["2026-11-25T00:00:00+00:00", "2026-11-25T00:00:00-05:00", "2026-11-25T09:30:00-05:00"],
)
def test_candle_day_reads_every_stamping_convention(stamp: str) -> None:
    ms = int(datetime.fromisoformat(stamp).timestamp() * 1000)
    assert candle_day(ms) == date(2026, 11, 25)


async def test_empty_candle_snapshot_falls_back_to_history_contract(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    fake.faults.empty_candle_snapshot = True
    assert await broker.get_daily_candles("BRK.B", 30) == fake.scenario.candles["BRK.B"][-30:]
    assert fake.contracts == ["AUTO", "HISTORY"]


async def test_candles_of_unknown_symbol(broker: TastytradeBroker) -> None:
    with pytest.raises(UnknownSymbol) as err:
        await broker.get_daily_candles("ZZZZ", 10)
    assert err.value.symbol == "ZZZZ"


async def test_option_chain_maps_every_contract(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    chain = await broker.get_option_chain("AAPL")
    served = fake.scenario.chains["AAPL"]
    assert chain.underlying == "AAPL"
    assert chain.underlying_price == fake.scenario.quotes["AAPL"].mark
    assert chain.missing == []
    assert sorted(chain.options, key=lambda o: o.occ_symbol) == sorted(
        served.options, key=lambda o: o.occ_symbol
    )
    # One streamer connection for the whole chain.
    assert fake.websockets_opened == 1


async def test_option_chain_limits_expirations_and_strikes(fake: FakeTastytrade) -> None:
    spot = fake.scenario.quotes["AAPL"].mark
    broker = fake.broker(max_dte=20, strike_band=0.06)
    try:
        chain = await broker.get_option_chain("AAPL")
    finally:
        await broker.close()
    expected = {
        o.occ_symbol
        for o in fake.scenario.chains["AAPL"].options
        if (o.expiration - fake.scenario.today).days <= 20 and abs(o.strike / spot - 1) <= 0.06
    }
    assert expected and {o.occ_symbol for o in chain.options} == expected


async def test_option_chain_spreads_a_capped_number_of_expirations(fake: FakeTastytrade) -> None:
    served = sorted({o.expiration for o in fake.scenario.chains["AAPL"].options})
    assert len(served) == 3
    broker = fake.broker(max_expirations=2)
    try:
        chain = await broker.get_option_chain("AAPL")
    finally:
        await broker.close()
    # The nearest and the farthest, not the two nearest.
    assert sorted({o.expiration for o in chain.options}) == [served[0], served[-1]]


async def test_option_chain_reports_contracts_without_data(fake: FakeTastytrade) -> None:
    put = next(o for o in fake.scenario.chains["AAPL"].options if o.kind == "put")
    fake.faults.silent_symbols = {
        f".AAPL{put.expiration:%y%m%d}P{put.strike:g}",
    }
    broker = fake.broker(stream_timeout=1)
    try:
        chain = await broker.get_option_chain("AAPL")
    finally:
        await broker.close()
    assert chain.missing == [put.occ_symbol]
    assert put.occ_symbol not in {o.occ_symbol for o in chain.options}
    assert len(chain.options) == len(fake.scenario.chains["AAPL"].options) - 1


async def test_unknown_symbols(broker: TastytradeBroker) -> None:
    with pytest.raises(UnknownSymbol, match="ZZZZ"):
        await broker.get_quotes(["AAPL", "ZZZZ"])
    with pytest.raises(UnknownSymbol, match="ZZZZ"):
        await broker.get_market_metrics(["ZZZZ"])
    with pytest.raises(UnknownSymbol, match="ZZZZ") as err:
        await broker.get_option_chain("ZZZZ")
    assert not err.value.retryable


async def test_one_session_shared_by_concurrent_calls(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    chains = await asyncio.gather(
        broker.get_option_chain("AAPL"),
        broker.get_option_chain("BRK.B"),
        broker.get_quotes(["AAPL"]),
        broker.get_daily_candles("AAPL", 5),
        broker.get_positions(),
    )
    assert chains[0].options and chains[1].options
    assert len(fake.access_tokens) == 1  # one OAuth refresh served everything
    # Read-only: nothing but GETs, apart from the OAuth token request.
    assert {(r.method, r.url.path) for r in fake.requests if r.method != "GET"} == {
        ("POST", "/oauth/token")
    }


# -- faults ------------------------------------------------------------------------------


async def test_revoked_refresh_token_is_an_auth_error(fake: FakeTastytrade) -> None:
    broker = TastytradeBroker(
        TastytradeCredentials(fake.provider_secret, "revoked-refresh-token"),
        client_kwargs={"transport": fake.transport()},
    )
    try:
        with pytest.raises(BrokerAuthError) as err:
            await broker.get_accounts()
    finally:
        await broker.close()
    assert not err.value.retryable
    assert "refresh token expired or revoked" in str(err.value)
    assert "revoked-refresh-token" not in error_text(err.value)
    assert fake.provider_secret not in error_text(err.value)


@pytest.mark.parametrize("status", [401, 403])
async def test_rejected_api_call_is_an_auth_error(
    fake: FakeTastytrade, broker: TastytradeBroker, status: int
) -> None:
    fake.faults.http.append(HttpFault("/customers/me/accounts", status=status))
    with pytest.raises(BrokerAuthError):
        await broker.get_accounts()


async def test_rate_limit_is_retryable_with_retry_after(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    fake.faults.http.append(HttpFault("/market-data", status=429, retry_after=7))
    with pytest.raises(BrokerUnavailable) as err:
        await broker.get_quotes(["AAPL"])
    assert err.value.retryable and err.value.retry_after == 7
    # The fault was one response: the retry succeeds.
    assert (await broker.get_quotes(["AAPL"]))["AAPL"] == fake.scenario.quotes["AAPL"]


async def test_server_error_is_retryable(fake: FakeTastytrade, broker: TastytradeBroker) -> None:
    fake.faults.http.append(HttpFault("/option-chains", status=500))
    with pytest.raises(BrokerUnavailable) as err:
        await broker.get_option_chain("AAPL")
    assert err.value.retryable and err.value.retry_after is None
    assert (await broker.get_option_chain("AAPL")).options


async def test_token_endpoint_outage_is_retryable(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    fake.faults.http.append(HttpFault("/oauth/token", status=503, retry_after=3))
    with pytest.raises(BrokerUnavailable) as err:
        await broker.get_balances()
    assert err.value.retry_after == 3


async def test_network_fault_is_retryable() -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    broker = TastytradeBroker(
        TastytradeCredentials("secret", "refresh"),
        client_kwargs={"transport": httpx2.MockTransport(refuse)},
    )
    try:
        with pytest.raises(BrokerUnavailable, match="cannot reach tastytrade") as err:
            await broker.get_accounts()
    finally:
        await broker.close()
    assert err.value.retryable


async def test_malformed_json_is_a_schema_error(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    fake.faults.http.append(HttpFault("/market-metrics", kind="malformed"))
    with pytest.raises(BrokerSchemaError) as err:
        await broker.get_market_metrics(["AAPL"])
    assert not err.value.retryable


async def test_missing_required_field_is_a_schema_error(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    fake.faults.http.append(
        HttpFault("/market-metrics", kind="missing_field", field_name="updated-at")
    )
    with pytest.raises(BrokerSchemaError, match="updated-at") as err:
        await broker.get_market_metrics(["AAPL", "BRK.B"])
    assert not err.value.retryable


async def test_dropped_websocket_is_retryable_and_unwrapped(
    fake: FakeTastytrade, broker: TastytradeBroker
) -> None:
    fake.faults.drop_websocket = True
    with pytest.raises(BrokerUnavailable) as err:
        await broker.get_option_chain("AAPL")
    assert not isinstance(err.value, BaseExceptionGroup)
    with pytest.raises(BrokerUnavailable):
        await broker.get_daily_candles("AAPL", 5)
    fake.faults.drop_websocket = False
    assert (await broker.get_option_chain("AAPL")).options


# -- secrets -----------------------------------------------------------------------------


async def test_no_secret_in_errors_or_logs(
    fake: FakeTastytrade, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    broker = fake.broker(stream_timeout=5)
    errors: list[BaseException] = []
    try:
        await broker.get_accounts()
        await broker.get_positions()
        await broker.get_balances()
        await broker.get_quotes(["AAPL"])
        await broker.get_market_metrics(["AAPL"])
        await broker.get_daily_candles("AAPL", 5)
        await broker.get_option_chain("AAPL")
        # A refusal whose message echoes credentials must come out redacted.
        echo = f"bad grant {fake.refresh_token} / {fake.access_tokens[-1]}"
        fake.faults.http.append(HttpFault("/market-data", status=400, message=echo))
        fake.faults.http.append(HttpFault("/market-metrics", kind="malformed"))
        fake.faults.http.append(HttpFault("/customers", status=401))
        for call in (
            broker.get_quotes(["AAPL"]),
            broker.get_market_metrics(["AAPL"]),
            broker.get_accounts(),
        ):
            with pytest.raises(BrokerError) as err:
                await call
            errors.append(err.value)
    finally:
        await broker.close()
    assert "***" in str(errors[0])
    assert_no_secrets(
        fake,
        caplog.text,
        repr(broker),
        *(error_text(e) for e in errors),
    )
    assert logging.getLogger("tastytrade").getEffectiveLevel() >= logging.INFO


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


async def test_option_symbols_follow_occ(fake: FakeTastytrade) -> None:
    # Guards the fake itself: the chain's OCC symbols are what the adapter returns.
    o = fake.scenario.chains["AAPL"].options[0]
    assert occ_symbol("AAPL", o.expiration, o.kind, o.strike) == o.occ_symbol
    assert len(o.occ_symbol) == 21
    assert o.expiration - fake.scenario.today == timedelta(days=14)
