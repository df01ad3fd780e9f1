"""The tastytrade adapter under faults injected into the in-process fake of the API.

One OAuth session serves concurrent calls; every injected fault (revoked or
rejected tokens, rate limits, outages, network faults, malformed or
incomplete bodies, a dropped websocket) ends in the right retryable or
non-retryable broker error; no credential value shows up in an error or a
log line.
"""

from __future__ import annotations

import asyncio
import logging

import httpx2
import pytest

from tests.helpers.fake_tastytrade.app import FakeTastytrade
from tests.helpers.fake_tastytrade.checks import assert_no_secrets, error_text
from tests.helpers.fake_tastytrade.faults import HttpFault
from ttai.broker.base import BrokerAuthError, BrokerError, BrokerSchemaError, BrokerUnavailable
from ttai.broker.credentials import TastytradeCredentials
from ttai.broker.tastytrade.broker import TastytradeBroker


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
