"""ScreenInput / WatchlistCommand validation: bad input never reaches history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from ttai.models.screener import MAX_CONCURRENT_LIMIT as LIMIT
from ttai.models.screener import MAX_SCREEN_SYMBOLS, ScreenInput, ScreenResult, WatchlistCommand


def test_duplicates_are_analysed_once_in_input_order() -> None:
    request = ScreenInput(symbols=["MSFT", "AAPL", "MSFT", "KO", "AAPL"])
    assert request.symbols == ["MSFT", "AAPL", "KO"]
    assert (request.max_concurrent, request.top_n, request.notify) == (5, 10, False)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"symbols": []}, "the symbol list is empty"),
        ({}, "either symbols or a watchlist"),
        ({"symbols": ["AAPL"], "watchlist": "default"}, "either symbols or a watchlist"),
        ({"symbols": ["AAPL"], "max_concurrent": 0}, "greater than or equal to 1"),
        ({"symbols": ["AAPL"], "max_concurrent": 10_000}, f"less than or equal to {LIMIT}"),
        ({"symbols": ["AAPL"], "top_n": 0}, "greater than or equal to 1"),
        ({"symbols": ["aapl"]}, "invalid symbol"),
        ({"watchlist": "No Such; DROP"}, "should match pattern"),
        ({"symbols": ["AAPL"], "bogus": 1}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_rejected(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ScreenInput.model_validate(data)


def _tickers(count: int) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return [a + b + c for a in letters for b in letters for c in letters][:count]


def test_symbol_cap() -> None:
    assert (
        len(ScreenInput(symbols=_tickers(MAX_SCREEN_SYMBOLS)).symbols or []) == MAX_SCREEN_SYMBOLS
    )
    with pytest.raises(ValidationError, match=f"at most {MAX_SCREEN_SYMBOLS}"):
        ScreenInput(symbols=_tickers(MAX_SCREEN_SYMBOLS + 1))
    # Duplicates do not count against the cap.
    assert ScreenInput(symbols=_tickers(MAX_SCREEN_SYMBOLS) * 2).symbols == _tickers(
        MAX_SCREEN_SYMBOLS
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "list", "name": "default"}, "list takes no"),
        ({"action": "show"}, "show needs a watchlist name"),
        ({"action": "show", "name": "default", "symbols": ["AAPL"]}, "show takes no symbols"),
        ({"action": "add", "name": "mine"}, "add needs at least one symbol"),
        ({"action": "drop", "name": "mine"}, "Input should be"),
    ],
)  # fmt: skip
def test_watchlist_command_rejected(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        WatchlistCommand.model_validate(data)


def test_watchlist_remove_without_symbols_means_delete() -> None:
    assert WatchlistCommand(action="remove", name="mine").symbols == []
    assert WatchlistCommand(action="add", name="mine", symbols=["KO", "KO"]).symbols == ["KO"]


def _entry(symbol: str) -> dict[str, Any]:
    return {
        "symbol": symbol, "recommendation": "select", "score": 7, "chart_score": 8.0,
        "price": 123.45, "trend": "uptrend", "strike": 110.0, "expiration": "2027-01-15",
        "credit": 1.23, "annualized_return": 0.1567, "probability_of_profit": 0.8123,
        "delta": -0.2456, "iv_rank": 55.5, "analysis_id": 123456789,
        "workflow_id": f"screen-0123456789abcdef/{symbol}",
    }  # fmt: skip


def _resume(**changes: Any) -> dict[str, Any]:
    state = {
        "symbols": ["AAPL", "KO", "MSFT"],
        "entries": [_entry("AAPL")],
        "failures": [{"symbol": "KO", "reason": "unknown symbol: KO"}],
        "started_at": "2026-11-26T15:00:00Z",
        "runs": 2,
    }
    return {"symbols": ["AAPL", "KO", "MSFT"], "resume": state | changes}


def test_resume_state_is_accepted_when_consistent() -> None:
    request = ScreenInput.model_validate(_resume())
    assert request.resume is not None and request.resume.runs == 2
    # A watchlist screen carries the symbols it resolved.
    watchlist = {"watchlist": "mine", "resume": _resume()["resume"]}
    assert ScreenInput.model_validate(watchlist).resume is not None


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"symbols": []}, "resume: no symbols"),
        ({"symbols": ["AAPL", "KO", "AAPL"]}, "duplicate symbols"),
        ({"entries": [_entry("AAPL"), _entry("AAPL")]}, "duplicate entries"),
        ({"failures": [{"symbol": "KO", "reason": "x"}] * 2}, "duplicate failures"),
        ({"failures": [{"symbol": "AAPL", "reason": "x"}]}, "both analyzed and failed"),
        ({"entries": [_entry("TSLA")]}, "finished but not in the screen"),
        ({"runs": 0}, "greater than or equal to 1"),
        ({"runs": -3}, "greater than or equal to 1"),
        ({"symbols": ["KO", "AAPL", "MSFT"]}, "not the screen's symbols"),
        ({"bogus": 1}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_resume_state_is_validated_like_user_input(state: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ScreenInput.model_validate(_resume(**state))


def test_resume_symbol_cap() -> None:
    symbols = _tickers(MAX_SCREEN_SYMBOLS + 1)
    state = _resume(symbols=symbols, entries=[], failures=[])["resume"]
    data = {"watchlist": "big", "resume": state}
    with pytest.raises(ValidationError, match=f"at most {MAX_SCREEN_SYMBOLS}"):
        ScreenInput.model_validate(data)


def test_a_full_resume_state_fits_in_one_payload() -> None:
    """The state a 2,000-symbol screen carries across continue-as-new stays well
    under Temporal's 2 MB payload limit (so MAX_SCREEN_SYMBOLS is safe)."""
    symbols = _tickers(MAX_SCREEN_SYMBOLS)
    state = _resume(symbols=symbols, entries=[_entry(s) for s in symbols], failures=[])
    request = ScreenInput.model_validate({"watchlist": "big", "resume": state["resume"]})
    assert len(request.model_dump_json()) < 1024 * 1024


def test_a_result_saved_before_the_one_spelling_still_reads() -> None:
    """Screens saved (and results recorded) before `analysed` became `analyzed`."""
    now = datetime.now(UTC)
    old = {
        "screen_id": "s", "strategy": "csp", "watchlist": None, "status": "completed",
        "total": 2, "analysed": 2, "rejected": 0, "failed": 0, "top": [], "failures": [],
        "started_at": now, "finished_at": now,
    }  # fmt: skip
    result = ScreenResult.model_validate(old)
    assert result.analyzed == 2
    assert "analysed" not in result.model_dump() and result.model_dump()["analyzed"] == 2
