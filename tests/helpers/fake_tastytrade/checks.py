"""Checks the tastytrade tests share: no credential the fake handed out appears in a text."""

from __future__ import annotations

import traceback

from tests.helpers.fake_tastytrade.app import FakeTastytrade


def assert_no_secrets(fake: FakeTastytrade, *texts: str) -> None:
    """No credential the fake handed out or accepts appears in any of `texts`."""
    values = fake.secret_values()
    assert fake.access_tokens, "the fake never issued a token: the check would be empty"
    for text in texts:
        for value in values:
            assert value not in text


def error_text(exc: BaseException) -> str:
    """All an error could show: its traceback and its repr."""
    return "".join(traceback.format_exception(exc)) + repr(exc)
