"""Least privilege of the API roles: every function anon or authenticated may execute is listed
here with the reason it must be, so a new exposed function fails this test until someone
justifies it; and the privileged helpers a review found reachable are not.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from kwq8.postgrest import ApiError, Identity
from kwq8.system_schemas import SYSTEM_SCHEMAS
from kwq8.testing.database import TestDatabase

SERVICE = Identity.service_role()

# (role, function) -> why the role needs EXECUTE. Written by hand, not read from the code.
JUSTIFIED: dict[tuple[str, str], str] = {
    # The RPC endpoints of the browser: each acts on auth.uid() alone and validates its input.
    ("authenticated", "get_credit_summary()"): "RPC: the caller's own balance and plan",
    ("authenticated", "spend_credits(text,text,text)"): "RPC: spends the caller's credits at the catalogue price",
    ("authenticated", "reserve_credits(text,text)"): "RPC: holds the caller's credits at the catalogue price",
    ("authenticated", "get_credit_usage(integer)"): "RPC: the caller's own spending per day and action",
    ("authenticated", "get_hold(uuid)"): "RPC: the caller's own hold (GEN_001 when its generation failed)",
    # The SECURITY DEFINER halves of those endpoints: the public wrappers are SECURITY INVOKER,
    # so the caller needs EXECUTE on what they delegate to; each reads auth.uid() itself.
    ("authenticated", "billing.spend_credits(text,text,text)"): "body of spend_credits, for auth.uid() only",
    ("authenticated", "billing.reserve_credits(text,text)"): "body of reserve_credits, for auth.uid() only",
    ("authenticated", "billing.get_credit_summary()"): "body of get_credit_summary, for auth.uid() only",
    ("authenticated", "billing.get_credit_usage(integer)"): "body of get_credit_usage, for auth.uid() only",
    ("authenticated", "billing.get_hold(uuid)"): "body of get_hold, for auth.uid() only",
    ("authenticated", "set_domain_contact(jsonb)"): "RPC: the caller's own registrant contact, validated",
    ("authenticated", "domains.set_domain_contact(jsonb)"): "body of set_domain_contact, for auth.uid() only",
    # Reveals the time; frozen only in databases the test harness marked.
    ("authenticated", "billing.clock()"): "the time of every rule, called in the caller's context",
    # PostgREST runs the pre-request function as the request's role.
    ("anon", "ratelimit.check_request()"): "the Data API limiter (db-pre-request)",
    ("authenticated", "ratelimit.check_request()"): "the Data API limiter (db-pre-request)",
    # Helpers of RLS policies and triggers, which run as the caller.
    ("anon", "private.is_published_project(uuid)"): "visitor insert policies: published or not, nothing else",
    ("authenticated", "private.is_published_project(uuid)"): "owner insert policies: published or not",
    ("anon", "private.owned_project_ids()"): "policies; the caller's own projects (none for anon)",
    ("authenticated", "private.owned_project_ids()"): "policies; the caller's own projects",
    ("anon", "private.is_safe_object_name(text)"): "storage policies: a pure check of a name",
    ("authenticated", "private.is_safe_object_name(text)"): "storage policies: a pure check of a name",
    ("anon", "private.project_id_from_path(text)"): "storage policies: parses a path",
    ("authenticated", "private.project_id_from_path(text)"): "storage policies: parses a path",
    ("anon", "private.normalize_phone(text)"): "submission triggers running as the visitor: pure",
    ("authenticated", "private.normalize_phone(text)"): "submission triggers running as the owner: pure",
    ("anon", "private.raise_error(text,text,text)"): "invoker code raises catalogued errors through it",
    ("authenticated", "private.raise_error(text,text,text)"): "invoker code raises catalogued errors through it",
}


def executable_by_api_roles(db: TestDatabase) -> set[tuple[str, str]]:
    rows = db.sql(
        """
        select r.rolname, p.oid::regprocedure::text as fn
        from pg_proc as p
        inner join pg_namespace as n on n.oid = p.pronamespace
        cross join pg_roles as r
        where r.rolname in ('anon', 'authenticated')
            and has_function_privilege(r.oid, p.oid, 'execute')
            and n.nspname <> all(%s::text [])
            and n.nspname !~ '^pg_'
            and not exists (select from pg_depend as d where d.objid = p.oid and d.deptype = 'e')
        """,
        (list(SYSTEM_SCHEMAS),),
    )
    return {(r["rolname"], r["fn"]) for r in rows}


def test_every_function_the_api_roles_can_execute_is_justified(kwq8_tx: TestDatabase) -> None:
    found = executable_by_api_roles(kwq8_tx)
    unjustified = sorted(found - set(JUSTIFIED))
    assert not unjustified, f"justify these in JUSTIFIED or revoke them: {unjustified}"
    # A justification for a grant that is gone is stale.
    assert not sorted(set(JUSTIFIED) - found)
    print(f"\n[least privilege] {len(found)} (role, function) pairs, each justified")


def test_active_plan_of_another_user_is_not_readable(kwq8_tx: TestDatabase) -> None:
    db = kwq8_tx
    me, victim = db.create_user(), db.create_user()
    db.sql(
        "update public.users set plan = 'pro', plan_period_end = billing.clock() + interval '10 days' where id = %s",
        (victim.user_id,),
    )
    with pytest.raises(ApiError) as info:
        db.query_as(me, "select billing.active_plan(%s)", (victim.user_id,))
    assert (info.value.status, info.value.code) == (403, "42501")
    # The summary, which uses it for the caller, still answers.
    assert db.rpc("get_credit_summary", {}, as_=victim)["plan"]["code"] == "pro"


def test_capture_refuses_a_hold_past_its_expiry_that_no_sweeper_released(kwq8_tx: TestDatabase) -> None:
    db = kwq8_tx
    db.freeze_time("2026-05-10T09:00:00+00:00")
    user = db.create_user()
    db.sql("select billing.add_grant(%s, 'purchase', 20, null, null, 'test', null, null)", (user.user_id,))
    hold = db.rpc("reserve_credits", {"action": "page_generation", "idempotency_key": "h1"}, as_=user)
    expires = db.scalar("select expires_at from billing.holds where id = %s", (hold["hold_id"],))
    # Nothing is scheduled for the user (a missed schedule): the upkeep will not expire the hold.
    db.sql("update public.users set credits_next_event_at = null where id = %s", (user.user_id,))
    db.freeze_time(expires.isoformat())
    with pytest.raises(ApiError) as info:
        db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE)
    assert (info.value.status, info.value.code) == (410, "CREDIT_009")
    assert db.scalar("select status from billing.holds where id = %s", (hold["hold_id"],)) == "active"
    assert db.scalar("select credits_balance from public.users where id = %s", (user.user_id,)) == Decimal("17.00")
