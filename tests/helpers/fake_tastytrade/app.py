"""A fake tastytrade API: the REST endpoints the adapter uses and the DXLink websocket.

This module wires the routes, the OAuth token and the faults; `rest` renders the
payloads in the API's shapes and `dxlink` speaks the streamer protocol. Faults
are switched on per test through `FakeTastytrade.faults`.
"""

from __future__ import annotations

import copy
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from tests.helpers.fake_tastytrade import rest
from tests.helpers.fake_tastytrade.dxlink import URL as DXLINK_URL
from tests.helpers.fake_tastytrade.dxlink import DXLink
from tests.helpers.fake_tastytrade.faults import Faults
from tests.helpers.fake_tastytrade.scenario import Scenario, tt_symbol
from tests.helpers.fake_tastytrade.transport import SharedASGIWebSocketTransport
from ttai.broker.credentials import TastytradeCredentials
from ttai.broker.tastytrade.broker import TastytradeBroker

MARKET_DATA_LIMIT = 100
MAX_PER_PAGE = 250  # transactions per page


@dataclass
class Page:
    """A list response with the API's top-level `pagination` block."""

    data: dict[str, Any]
    pagination: dict[str, Any]


class FakeTastytrade:
    """Serves one scenario to the real SDK, in process."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.faults = Faults()
        self.provider_secret = f"fake-provider-secret-{secrets.token_hex(8)}"
        self.refresh_token = f"fake-refresh-token-{secrets.token_hex(8)}"
        self.quote_token = f"fake-dxlink-token-{secrets.token_hex(8)}"
        self.access_tokens: list[str] = []  # every one issued, newest last
        self.requests: list[Request] = []
        self.dxlink = DXLink(scenario, self.faults, self.quote_token)
        self.app = Starlette(
            routes=[
                Route("/oauth/token", self._endpoint(self._token, auth=False), methods=["POST"]),
                Route("/customers/me/accounts", self._endpoint(self._accounts)),
                Route("/accounts/{account}/positions", self._endpoint(self._positions)),
                Route("/accounts/{account}/transactions", self._endpoint(self._transactions)),
                Route("/accounts/{account}/balances/{currency}", self._endpoint(self._balances)),
                Route("/market-data/by-type", self._endpoint(self._market_data)),
                Route("/market-metrics", self._endpoint(self._metrics)),
                Route("/option-chains/{symbol:path}/nested", self._endpoint(self._chain)),
                Route("/api-quote-tokens", self._endpoint(self._quote_token)),
                WebSocketRoute("/realtime", self.dxlink.serve),
            ]
        )

    # -- wiring ------------------------------------------------------------------------

    def transport(self) -> SharedASGIWebSocketTransport:
        return SharedASGIWebSocketTransport(self.app)

    def broker(self, **kwargs: Any) -> TastytradeBroker:
        """The real adapter, talking to this fake in process (sandbox credentials)."""
        credentials = TastytradeCredentials(self.provider_secret, self.refresh_token, is_test=True)
        return TastytradeBroker(
            credentials, client_kwargs={"transport": self.transport()}, **kwargs
        )

    def secret_values(self) -> list[str]:
        """Every credential value the fake handed out or accepts."""
        return [self.provider_secret, self.refresh_token, self.quote_token, *self.access_tokens]

    @property
    def contracts(self) -> list[str]:
        """The DXLink channel contracts requested so far (AUTO, HISTORY)."""
        return self.dxlink.contracts

    @property
    def websockets_opened(self) -> int:
        return self.dxlink.websockets_opened

    # -- REST --------------------------------------------------------------------------

    def _endpoint(
        self, handler: Callable[[Request], Awaitable[Any]], auth: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.requests.append(request)
            fault = self.faults.take(request.url.path)
            if fault is not None and fault.kind == "status":
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                return rest.error(fault.status, "injected_fault", fault.message, headers)
            if fault is not None and fault.kind == "malformed":
                return Response('{"data": {"items": [{"symbol": ', media_type="application/json")
            if auth and request.headers.get("authorization") != f"Bearer {self._current_token()}":
                return rest.error(401, "token_invalid", "This token is invalid or has expired")
            result = await handler(request)
            if isinstance(result, Response):
                return result
            body: dict[str, Any] = {"context": request.url.path}
            if isinstance(result, Page):
                result, body["pagination"] = result.data, result.pagination
            if fault is not None and fault.kind == "missing_field":
                for item in result.get("items", [result]):
                    item.pop(fault.field_name, None)
            return JSONResponse({"data": result, **body})

        return endpoint

    def _current_token(self) -> str | None:
        return self.access_tokens[-1] if self.access_tokens else None

    async def _token(self, request: Request) -> Any:
        body = await request.json()
        if (
            body.get("grant_type") != "refresh_token"
            or body.get("client_secret") != self.provider_secret
            or body.get("refresh_token") != self.refresh_token
        ):
            return rest.error(401, "invalid_grant", "Grant has been revoked")
        self.access_tokens.append("fake-access-token-" + secrets.token_hex(12))
        # The token endpoint answers plain OAuth JSON, without the data envelope.
        return JSONResponse(
            {"access_token": self.access_tokens[-1], "expires_in": 900, "token_type": "Bearer"}
        )

    async def _accounts(self, request: Request) -> Any:
        return {"items": [rest.account(a, self.scenario.now) for a in self.scenario.accounts]}

    def _extra(self, request: Request) -> list[dict[str, Any]]:
        return copy.deepcopy(self.faults.extra_items.get(request.url.path, []))

    async def _positions(self, request: Request) -> Any:
        account = request.path_params["account"]
        return {
            "items": [
                rest.position(p, self.scenario.now)
                for p in self.scenario.positions
                if p.account == account
            ]
            + self._extra(request)
        }

    async def _transactions(self, request: Request) -> Any:
        """The account's history: the scenario's fills as trades, its option
        events as receive/deliver entries, a deposit and a dividend; filtered by
        type and start-at/end-at, sorted, paginated."""
        account = request.path_params["account"]
        now = self.scenario.now
        items = [
            rest.money_movement(1, account, "Deposit", 5000.0, now - timedelta(days=2)),
            rest.money_movement(2, account, "Dividend", 12.5, now - timedelta(minutes=30)),
        ]
        held = {(p.symbol, p.quantity > 0) for p in self.scenario.positions}
        for n, f in enumerate(self.scenario.fills, start=3):
            if f.account == account:
                items.append(rest.trade(n, f, opening=(f.symbol, f.quantity > 0) in held))
        first = 3 + len(self.scenario.fills)
        for n, e in enumerate(self.scenario.option_events):
            if e.account == account:
                items += rest.receive_deliver(first + 2 * n, e)
        items += self._extra(request)
        query = request.query_params
        if "type" in query:
            items = [i for i in items if i.get("transaction-type") == query["type"]]
        for key, keep in (("start-at", lambda t, at: t >= at), ("end-at", lambda t, at: t <= at)):
            if key in query:
                at = datetime.fromisoformat(query[key])
                items = [i for i in items if keep(datetime.fromisoformat(i["executed-at"]), at)]
        items.sort(key=lambda i: i["executed-at"], reverse=query.get("sort", "Desc") == "Desc")
        per_page = min(int(query.get("per-page", 250)), MAX_PER_PAGE)
        offset = int(query.get("page-offset", 0))
        page = items[offset * per_page : (offset + 1) * per_page]
        pagination = {
            "per-page": per_page,
            "page-offset": offset,
            "item-offset": offset * per_page,
            "total-items": len(items),
            "total-pages": max(math.ceil(len(items) / per_page), 1),
            "current-item-count": len(page),
            "previous-link": None,
            "next-link": None,
            "paging-link-template": None,
        }
        return Page({"items": page}, pagination)

    async def _balances(self, request: Request) -> Any:
        account = request.path_params["account"]
        found = [b for b in self.scenario.balances if b.account == account]
        if not found:
            return rest.error(404, "record_not_found", "Account not found")
        currency = request.path_params["currency"]
        return rest.balances(found[0], currency, self.scenario.today, self.scenario.now)

    async def _market_data(self, request: Request) -> Any:
        wanted = {
            kind: [s for value in request.query_params.getlist(kind) for s in value.split(",")]
            for kind in ("equity", "index", "equity-option", "future", "cryptocurrency")
        }
        if sum(len(v) for v in wanted.values()) > MARKET_DATA_LIMIT:
            return rest.error(400, "too_many_symbols", f"at most {MARKET_DATA_LIMIT} symbols")
        by_tt = {tt_symbol(s): q for s, q in self.scenario.quotes.items()}
        # The API leaves unknown symbols out.
        return {
            "items": [
                rest.market_data(symbol, by_tt[symbol], self.scenario.today)
                for symbol in wanted["equity"]
                if symbol in by_tt
            ]
        }

    async def _metrics(self, request: Request) -> Any:
        wanted = request.query_params.get("symbols", "").split(",")
        by_tt = {tt_symbol(s): m for s, m in self.scenario.metrics.items()}
        return {
            "items": [
                rest.market_metrics(symbol, by_tt[symbol], self.scenario.now)
                | self.faults.metrics_overrides.get(symbol, {})
                for symbol in wanted
                if symbol in by_tt
            ]
        }

    async def _chain(self, request: Request) -> Any:
        symbol = request.path_params["symbol"]
        chain = {tt_symbol(s): c for s, c in self.scenario.chains.items()}.get(symbol)
        if chain is None:
            return rest.error(404, "record_not_found", "Option chain not found")
        return {"items": rest.nested_chains(symbol, chain, self.scenario.today)}

    async def _quote_token(self, request: Request) -> Any:
        return rest.quote_token(self.quote_token, DXLINK_URL, self.scenario.now)
