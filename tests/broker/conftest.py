"""Fixtures of the broker tests: the in-process fake of the tastytrade API and the
real adapter talking to it, and what the code under test counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest

from tests.helpers.fake_tastytrade.app import FakeTastytrade
from tests.helpers.fake_tastytrade.scenario import Scenario
from ttai.broker import records
from ttai.broker.tastytrade.broker import TastytradeBroker


@pytest.fixture
def fake() -> FakeTastytrade:
    return FakeTastytrade(Scenario.small())


@pytest.fixture
async def broker(fake: FakeTastytrade) -> AsyncIterator[TastytradeBroker]:
    b = fake.broker(stream_timeout=5)
    yield b
    await b.close()


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, str]]:
    """What the code under test counted (`count` in ttai.broker.records), by (name, kind)."""
    seen: Counter[tuple[str, str]] = Counter()

    def count(name: str, value: int = 1, **attributes: str) -> None:
        seen[name, attributes.get("kind", "")] += value

    monkeypatch.setattr(records, "count", count)
    return seen
