"""A local fake of the tastytrade API (REST and DXLink) served in process to the real SDK."""

from tests.helpers.fake_tastytrade.app import FakeTastytrade, Faults, HttpFault
from tests.helpers.fake_tastytrade.scenario import Scenario

__all__ = ["FakeTastytrade", "Faults", "HttpFault", "Scenario"]
