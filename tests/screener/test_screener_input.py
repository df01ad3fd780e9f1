"""ScreenInput / WatchlistCommand validation: bad input never reaches history."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ttai.models.screener import MAX_CONCURRENT_LIMIT as LIMIT
from ttai.models.screener import MAX_SCREEN_SYMBOLS, ScreenInput, WatchlistCommand


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
