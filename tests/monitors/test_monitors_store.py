"""Alert and position stores on PostgreSQL: retried and concurrent writes stay single.

The store decides nothing: the check says what fired (with the sequence it read)
and what expired; the store commits it once, whatever retries and races.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from tests.helpers.portfolio import shares
from tests.helpers.times import utc
from tests.helpers.waiting import eventually
from ttai.db.alerts import RULES_CHANNEL, AlertStore
from ttai.db.positions import PositionStore
from ttai.domain.alerts import Firing
from ttai.models.alerts import AlertRule, AlertRuleSpec
from ttai.models.market import Position
from ttai.models.notifications import Notification
from ttai.notify.messages import alert_notification

NOW = utc(2026, 11, 25, 16)


async def counts(pool: asyncpg.Pool) -> tuple[int, int]:
    triggers = await pool.fetchval("SELECT count(*) FROM alert_triggers")
    notifications = await pool.fetchval("SELECT count(*) FROM notifications")
    return triggers, notifications


def fired(rule: AlertRule, sequence: int) -> list[tuple[Firing, Notification]]:
    """What a check that read the rule at trigger count `sequence - 1` hands the store."""
    firing = Firing(rule.alert_id, sequence, "AAPL", 5.0)
    return [(firing, alert_notification(rule, firing))]


async def test_a_retried_check_records_its_trigger_once(db_pool: asyncpg.Pool) -> None:
    store = AlertStore(db_pool)
    spec = AlertRuleSpec(
        symbol="AAPL", condition="price_above", threshold=1, mode="rearm", cooldown_seconds=300
    )
    rule = await store.create("req-1", spec)
    assert (await store.create("req-1", spec)).alert_id == rule.alert_id  # retried create
    for _ in range(3):  # the same check, retried with what it read first
        await store.record_check("wf:run:1", NOW, fired(rule, 1))
    # Retried after re-reading the rule (as if its cooldown had passed): still once per check.
    await store.record_check("wf:run:1", NOW, fired(rule, 2))
    assert await counts(db_pool) == (1, 1)
    assert [t.sequence for t in await store.triggers_for_check("wf:run:1")] == [1]
    # The next check is a new firing of the rearmed rule, with its own notification.
    await store.record_check("wf:run:2", NOW + timedelta(seconds=300), fired(rule, 2))
    assert await counts(db_pool) == (2, 2)
    keys = await db_pool.fetch("SELECT idempotency_key FROM notifications ORDER BY id")
    assert [k["idempotency_key"] for k in keys] == [
        f"alert:{rule.alert_id}:1",
        f"alert:{rule.alert_id}:2",
    ]
    (stored,) = await store.rules()
    assert (stored.trigger_count, stored.last_observed) == (2, 5.0)


async def test_concurrent_checks_fire_a_rule_once(db_pool: asyncpg.Pool) -> None:
    store = AlertStore(db_pool)
    once = await store.create(
        "req-1", AlertRuleSpec(symbol="AAPL", condition="price_above", threshold=1)
    )
    rearm = await store.create(
        "req-2",
        AlertRuleSpec(
            symbol="AAPL", condition="price_above", threshold=1, mode="rearm", cooldown_seconds=300
        ),
    )
    # Five checks that all read both rules before any committed.
    await asyncio.gather(
        *(
            store.record_check(f"wf:run:{i}", NOW, fired(once, 1) + fired(rearm, 1))
            for i in range(5)
        )
    )
    # One check won both rules: two triggers, one combined notification.
    assert await counts(db_pool) == (2, 1)
    stored = {r.alert_id: r for r in await store.rules(include_inactive=True)}
    assert stored[once.alert_id].status == "triggered"
    assert stored[once.alert_id].trigger_count == 1
    assert stored[rearm.alert_id].status == "active"
    assert stored[rearm.alert_id].trigger_count == 1


async def test_expiry_removal_and_unknown_ids(db_pool: asyncpg.Pool) -> None:
    store = AlertStore(db_pool)
    spec = AlertRuleSpec(symbol="AAPL", condition="price_above", threshold=1, expires_at=NOW)
    expiring = await store.create("req-1", spec)
    removed = await store.create("req-2", spec.model_copy(update={"expires_at": None}))
    assert (await store.remove(removed.alert_id)).removed
    await store.record_check("wf:run:1", NOW, fired(removed, 1), expired=[expiring.alert_id])
    assert await counts(db_pool) == (0, 0)  # removed: never fires
    statuses = {r.alert_id: r.status for r in await store.rules(include_inactive=True)}
    assert statuses == {expiring.alert_id: "expired", removed.alert_id: "removed"}
    assert await store.rules() == []
    # An expired rule stays expired: a late check's firing finds it inactive.
    await store.record_check("wf:run:2", NOW, fired(expiring, 1))
    assert await counts(db_pool) == (0, 0)
    with pytest.raises(LookupError, match="no alert with id 999"):
        await store.remove(999)


async def test_the_store_takes_any_condition_the_application_names(db_pool: asyncpg.Pool) -> None:
    """Migration 008 dropped the CHECK that listed the condition names."""
    store = AlertStore(db_pool)
    spec = AlertRuleSpec(symbol="AAPL", condition="price_above", threshold=1)
    known = await store.create("req-known", spec)
    await db_pool.execute(
        "INSERT INTO alert_rules (request_id, symbol, condition, threshold) "
        "VALUES ('r', 'AAPL', 'a_condition_added_later', 1)"
    )
    stored = await db_pool.fetchval("SELECT condition FROM alert_rules WHERE request_id = 'r'")
    assert stored == "a_condition_added_later"
    # A monitor reads the conditions it evaluates: the rule it does not know is
    # kept and passed by, the known one still read.
    assert [rule.alert_id for rule in await store.active(["price_above"])] == [known.alert_id]


def position(symbol: str, quantity: float) -> Position:
    return shares(symbol, quantity, 10)


async def test_position_sync_is_idempotent_and_keeps_closed_positions(
    db_pool: asyncpg.Pool,
) -> None:
    store = PositionStore(db_pool)
    first = await store.sync([position("AAPL", 10), position("MSFT", 5)], NOW)
    assert first.opened == ["AAPL", "MSFT"]
    again = await store.sync([position("AAPL", 10), position("MSFT", 5)], NOW)
    assert (again.opened, again.changed, again.closed) == ([], [], [])
    changed = await store.sync([position("AAPL", 20)], NOW + timedelta(minutes=5))
    assert (changed.changed, changed.closed) == (["AAPL"], ["MSFT"])
    reopened = await store.sync(
        [position("AAPL", 20), position("MSFT", 1)], NOW + timedelta(minutes=10)
    )
    assert reopened.opened == ["MSFT"]

    rows = await db_pool.fetch("SELECT id, symbol, quantity, closed_at FROM positions ORDER BY id")
    assert [(r["symbol"], r["quantity"], r["closed_at"] is None) for r in rows] == [
        ("AAPL", 20, True),
        ("MSFT", 5, False),  # the first MSFT position, kept and marked closed
        ("MSFT", 1, True),
    ]
    keys = {
        r["idempotency_key"]
        for r in await db_pool.fetch("SELECT idempotency_key FROM notifications")
    }
    ids = [r["id"] for r in rows]
    assert keys == {
        f"position-opened:{ids[0]}",
        f"position-opened:{ids[1]}",
        f"position-closed:{ids[1]}",
        f"position-opened:{ids[2]}",
    }


async def test_rule_changes_are_announced(db_pool: asyncpg.Pool) -> None:
    """A quote stream follows the rules through these announcements (AlertStore.changes):
    every write that changes the active rules makes one; a write that changes
    nothing makes none (announcements arrive in commit order, so the next real
    change shows the count)."""
    store = AlertStore(db_pool)
    heard: list[str] = []
    spec = AlertRuleSpec(symbol="AAPL", condition="price_above", threshold=1, mode="rearm")
    conn = await db_pool.acquire()

    def listen(*args: object) -> None:
        heard.append(str(args[-1]))

    await conn.add_listener(RULES_CHANNEL, listen)
    try:
        async with store.changes() as changed:

            async def announced(count: int) -> None:
                # Both listeners hear it, each on its own connection.
                await eventually(
                    lambda: (len(heard), changed.is_set()),
                    what=f"{count} announcements",
                    until=lambda seen: seen[0] >= count and seen[1],
                )
                assert len(heard) == count
                changed.clear()

            rule = await store.create("req-1", spec)
            await announced(1)
            await store.create("req-1", spec)  # retried: nothing new
            await store.record_check("wf:run:1", NOW, fired(rule, 1))
            await announced(2)
            await store.record_check("wf:run:1", NOW, fired(rule, 1))  # retried
            await store.record_check("wf:run:2", NOW, [], [rule.alert_id])  # expired
            await announced(3)
            await store.remove(rule.alert_id)
            await announced(4)
            await store.remove(rule.alert_id)  # removed already
            await store.create("req-2", spec)
            await announced(5)
    finally:
        await conn.remove_listener(RULES_CHANNEL, listen)
        await db_pool.release(conn)
    assert set(heard) == {""}  # nothing in them: listeners read the rules again


async def test_one_check_firing_many_rules_sends_one_notification(db_pool: asyncpg.Pool) -> None:
    """A flood (issue 22): a hundred rules that all hold fire in one check as one message."""
    store = AlertStore(db_pool)
    rules = [
        await store.create(
            f"req-{i}",
            AlertRuleSpec(
                symbol="S" + chr(65 + i // 26) + chr(65 + i % 26),
                condition="price_above",
                threshold=0,
                mode="rearm",
            ),
        )
        for i in range(100)
    ]
    check = [item for rule in rules for item in fired(rule, 1)]
    for _ in range(2):  # retried: still one
        await store.record_check("wf:run:7", NOW, check)
    assert await counts(db_pool) == (100, 1)
    row = await db_pool.fetchrow("SELECT idempotency_key, kind, title, body FROM notifications")
    assert row["idempotency_key"] == "alert-check:wf:run:7" and row["kind"] == "alert"
    assert row["title"].startswith("Alerts: 100 rules fired")
    assert "and 80 more" in row["body"]
    triggers = await store.triggers_for_check("wf:run:7")
    assert {t.notification_id for t in triggers} == {
        await db_pool.fetchval("SELECT id FROM notifications")
    }
    # One rule alone still sends its own notification, under its own key.
    await store.record_check("wf:run:8", NOW + timedelta(seconds=300), fired(rules[0], 2))
    last = await db_pool.fetchval(
        "SELECT idempotency_key FROM notifications ORDER BY id DESC LIMIT 1"
    )
    assert last == f"alert:{rules[0].alert_id}:2"
