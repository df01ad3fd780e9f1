"""Every notification is built in ttai/notify/messages.py, keyed by one function.

The keys are a stored format: rows already in the outbox deduplicate new
notifications only while the keys keep their exact bytes. Each expected key
below is written the way the code before the builders moved wrote it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
import pytest

from tests.helpers.analysis_fakes import fake_chart, fake_options, fake_research
from tests.helpers.reports_portfolio import analysis
from ttai.domain.alerts import Firing
from ttai.domain.reports import content, markdown
from ttai.models.alerts import AlertRule, AlertRuleSpec
from ttai.models.analysis import AnalysisResult
from ttai.models.market import OptionEvent
from ttai.models.notifications import Notification
from ttai.models.reports import Report
from ttai.models.screener import ScreenResult
from ttai.notify.messages import (
    KEYS,
    alert_notification,
    analysis_notification,
    combined_alert_notification,
    notification_key,
    position_notification,
    report_notification,
    screen_notification,
    settlement_notification,
)
from ttai.notify.outbox import Outbox

NOW = datetime(2026, 11, 25, 16, tzinfo=UTC)
RUN = "4f1c2b9e-7d3a-4e1b-9c55-0a8d2f6e1b37"


def screen() -> ScreenResult:
    return ScreenResult(
        screen_id="screen-weekly",
        strategy="csp",
        watchlist="sp500",
        status="completed",
        total=3,
        analyzed=3,
        rejected=1,
        failed=0,
        top=[],
        failures=[],
        started_at=NOW,
        finished_at=NOW,
    )


def report() -> Report:
    day = date(2026, 11, 25)
    body = content.morning_briefing([], {}, [], day)
    return Report(
        kind="morning_briefing",
        as_of=NOW,
        day=day,
        title=markdown.title("morning_briefing", day),
        markdown=markdown.render_morning_briefing(body),
        content=body,
    )


def rule() -> AlertRule:
    return AlertRule(
        alert_id=42,
        spec=AlertRuleSpec(symbol="AAPL", condition="crosses_up", threshold=250),
        status="active",
        trigger_count=2,
        created_at=NOW,
    )


def assigned(**changes: object) -> OptionEvent:
    """A short MSFT 600 put assigned at the close of Friday 18 Dec 2026 (MSFT 521.92)."""
    event = OptionEvent(
        account="SIM-0001", kind="assigned", symbol="MSFT  261218P00600000", underlying="MSFT",
        option_kind="put", strike=600.0, expiration=date(2026, 12, 18), quantity=-1,
        shares=100, price=600.0, settlement_price=521.92, day=date(2026, 12, 18),
        occurred_at=datetime(2026, 12, 18, 21, tzinfo=UTC),
    )  # fmt: skip
    return event.model_copy(update=changes)


def every_notification() -> list[tuple[Notification, str]]:
    """(built notification, its key as the code before wrote it)."""
    workflow_id = "screen-weekly/AAPL"  # a screen's child: '/' in the ID
    return [
        (
            analysis_notification(workflow_id, RUN, analysis("AAPL", "select", 8, NOW)),
            f"analysis:{workflow_id}:{RUN}",
        ),
        (screen_notification("screen-weekly", RUN, screen()), f"screen:screen-weekly:{RUN}"),
        (alert_notification(rule(), Firing(42, 3, "AAPL", 251.5)), "alert:42:3"),
        (
            combined_alert_notification(
                "monitor-price-alerts:run-1:7",
                [
                    alert_notification(rule(), Firing(42, 3, "AAPL", 251.5)),
                    alert_notification(rule(), Firing(42, 4, "AAPL", 252.0)),
                ],
            ),
            "alert-check:monitor-price-alerts:run-1:7",
        ),
        (position_notification("opened", 17, "AAPL", 100), "position-opened:17"),
        (position_notification("closed", 17, "AAPL", 100), "position-closed:17"),
        (settlement_notification(17, assigned()), "position-settled:17"),
        (
            report_notification("report-morning-briefing-2026-11-25T14:30:00Z", 5, report()),
            "report:report-morning-briefing-2026-11-25T14:30:00Z",
        ),
    ]


def test_keys_keep_their_bytes() -> None:
    built = every_notification()
    assert [n.idempotency_key for n, _ in built] == [key for _, key in built]
    # Every family is built here, and every family listed is one of them.
    assert {n.idempotency_key.split(":")[0] for n, _ in built} == set(KEYS)


def test_one_key_function_checks_its_families() -> None:
    assert notification_key("alert", 7, 2) == "alert:7:2"
    with pytest.raises(ValueError, match="unknown notification key family 'alerts'"):
        notification_key("alerts", 7, 2)
    with pytest.raises(ValueError, match="alert ID, sequence"):
        notification_key("alert", 7)


def test_alert_notifications_read_as_the_condition_table_words_them() -> None:
    note = alert_notification(rule(), Firing(42, 3, "AAPL", 251.5))
    assert note.title == "Alert: AAPL price crossed up through 250"
    assert note.body == "**AAPL**: observed 251.5."
    assert note.payload["sequence"] == 3 and "reference" not in note.payload


async def test_old_outbox_rows_still_deduplicate(db_pool: asyncpg.Pool) -> None:
    """A row enqueued under an old key stops the rebuilt notification from sending again."""
    outbox = Outbox(db_pool, [])
    built = every_notification()
    for _, old_key in built:
        await db_pool.execute(
            "INSERT INTO notifications (idempotency_key, kind, title, body) "
            "VALUES ($1, 'old', 'sent before the upgrade', '')",
            old_key,
        )
    for notification, _ in built:
        assert (await outbox.publish(notification)).duplicate
    assert await db_pool.fetchval("SELECT count(*) FROM notifications") == len(built)


def test_a_short_screen_says_so_in_its_notification() -> None:
    short = screen().model_copy(
        update={"top_n": 5, "note": "no candidates for the top 5: rejects never rank"}
    )
    body = screen_notification("screen-weekly", RUN, short).body
    assert "No candidates for the top 5: rejects never rank." in body.splitlines()
    assert "candidates" not in screen_notification("screen-weekly", RUN, screen()).body


def test_an_analysis_with_an_unknown_iv_rank_says_unknown() -> None:
    research = fake_research("KO").model_copy(update={"iv_rank": None})
    result = AnalysisResult(
        symbol="KO", strategy="csp", recommendation="watchlist", score=1,
        chart=fake_chart("KO"), options=fake_options("KO"), research=research, completed_at=NOW,
    )  # fmt: skip
    body = analysis_notification("analysis-KO", RUN, result).body
    assert "- IV rank unknown, positive" in body.splitlines()


def test_settlements_say_what_happened() -> None:
    """Issue 20: the sync said "closed" (or nothing) for an expired or assigned option."""
    note = settlement_notification(17, assigned())
    assert note.title == "Assigned: +100 MSFT at 600"
    assert note.body == (
        "**MSFT 600P 2026-12-18** -1 assigned at the close of 2026-12-18 (MSFT closed at "
        "521.92): +100 MSFT at 600, $60,000.00 paid."
    )
    expired = settlement_notification(
        18, assigned(kind="expired", shares=0, price=0.0, settlement_price=612.3)
    )
    assert expired.title == "Expired worthless: MSFT 600P 2026-12-18"
    assert expired.body.endswith(
        "expired worthless at the close of 2026-12-18 (MSFT closed at 612.30)."
    )
    called = settlement_notification(
        19, assigned(kind="exercised", option_kind="call", quantity=2, shares=200,
                     symbol="MSFT  261218C00600000", settlement_price=None),
    )  # fmt: skip
    assert called.title == "Exercised: +200 MSFT at 600"
    assert "$120,000.00 paid" in called.body and "closed at" not in called.body


PHISHING = "session expired, log in at [tastytrade](http://evil.example/login) *now*"


def test_a_note_is_quoted_data_never_the_message() -> None:
    """Issue 22: a rule's note was copied into the body as if TTAI had written it."""
    spec = rule().spec.model_copy(update={"note": PHISHING})
    noted = alert_notification(rule().model_copy(update={"spec": spec}), Firing(42, 3, "AAPL", 1))
    first, _, rest = noted.body.partition("\n\n")
    assert first == "**AAPL**: observed 1."  # TTAI's own words come first, alone
    assert rest.startswith("> Your note on alert 42: “")
    assert "[tastytrade](" not in rest and "*now*" not in rest  # no link, no emphasis
    assert r"\[tastytrade\]\(http://evil\.example/login\) \*now\*" in rest
    assert "session expired" not in noted.title


def test_several_alerts_of_one_check_are_one_notification() -> None:
    alerts = [
        alert_notification(rule(), Firing(42, 3, "AAPL", 251.5)),
        alert_notification(rule(), Firing(42, 4, "AAPL", 252.0)),
    ]
    combined = combined_alert_notification("wf:run:1", alerts)
    assert combined.kind == "alert" and combined.title == "Alerts: 2 rules fired (AAPL)"
    assert all(alert.title in combined.body for alert in alerts)
    assert [a["sequence"] for a in combined.payload["alerts"]] == [3, 4]
    assert combined_alert_notification("wf:run:1", alerts[:1]) == alerts[0]
