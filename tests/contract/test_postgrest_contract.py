"""The test harness acts as PostgREST does: role, claims, errors and function resolution."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kwq8.postgrest import ApiError, Identity, http_status
from kwq8.testing.database import TestDatabase

FUNCTIONS = r"""
create function public.echo_amount(amount numeric, note text default null) returns jsonb
language sql stable as $$ select jsonb_build_object('amount', amount, 'note', note, 'uid', auth.uid()) $$;
create function public.fail_pgrst() returns void language plpgsql as $$
begin
    raise sqlstate 'PGRST' using
        message = json_build_object('code', 'CREDIT_001', 'message', 'رصيدك غير كافٍ',
                                    'details', 'balance 0 < 1', 'hint', null)::text,
        detail = json_build_object('status', 402, 'headers', json_build_object('X-Kwq8', 'yes'))::text;
end $$;
create function public.fail_plain() returns void language plpgsql as $$
begin raise exception 'plain failure' using hint = 'try again'; end $$;
create function public.fail_pt() returns void language plpgsql as $$
begin raise sqlstate 'PT409' using message = 'conflict'; end $$;
create function public.fail_bad_json() returns void language plpgsql as $$
begin raise sqlstate 'PGRST' using message = 'not json', detail = 'nope'; end $$;
create function public.who() returns setof text language sql stable
as $$ select current_user::text union all select 'x' $$;
create table public.secret (id int);
grant execute on function public.echo_amount(numeric, text), public.fail_pgrst(), public.fail_plain(),
    public.fail_pt(), public.fail_bad_json(), public.who() to anon, authenticated;
"""


@pytest.fixture
def api_db(kwq8_tx: TestDatabase) -> TestDatabase:
    kwq8_tx.sql(FUNCTIONS)
    return kwq8_tx


def test_rpc_passes_json_arguments_through_declared_types(api_db: TestDatabase) -> None:
    user = api_db.create_user()
    result = api_db.rpc("echo_amount", {"amount": "0.5"}, as_=user)
    assert result == {"amount": Decimal("0.5"), "note": None, "uid": user.user_id}
    assert api_db.rpc("echo_amount", {"amount": 2.5, "note": "ملاحظة"}, as_=user)["note"] == "ملاحظة"
    assert api_db.rpc("who", {}, as_=user) == ["authenticated", "x"]


def test_unknown_or_extra_arguments_do_not_match_any_function(api_db: TestDatabase) -> None:
    user = api_db.create_user()
    for args in ({"amount": 1, "user_id": user.user_id}, {"note": "x"}, {}):
        with pytest.raises(ApiError) as info:
            api_db.rpc("echo_amount", args, as_=user)
        assert (info.value.status, info.value.code) == (404, "PGRST202")


def test_bad_argument_value_is_a_400(api_db: TestDatabase) -> None:
    with pytest.raises(ApiError) as info:
        api_db.rpc("echo_amount", {"amount": "lots"}, as_=api_db.create_user())
    assert (info.value.status, info.value.code) == (400, "22P02")


def test_pgrst_errors_control_status_and_body(api_db: TestDatabase) -> None:
    with pytest.raises(ApiError) as info:
        api_db.rpc("fail_pgrst", {}, as_=api_db.create_user())
    err = info.value
    assert err.status == 402 and err.code == "CREDIT_001" and err.message == "رصيدك غير كافٍ"
    assert err.body == {
        "code": "CREDIT_001",
        "message": "رصيدك غير كافٍ",
        "details": "balance 0 < 1",
        "hint": None,
    }
    assert err.headers == {"X-Kwq8": "yes"}
    with pytest.raises(ApiError) as bad:
        api_db.rpc("fail_bad_json", {}, as_=Identity.anon())
    assert (bad.value.status, bad.value.code) == (500, "PGRST121")


def test_other_errors_follow_postgrest_status_table(api_db: TestDatabase, anon: Identity) -> None:
    user = api_db.create_user()
    with pytest.raises(ApiError) as plain:
        api_db.rpc("fail_plain", {}, as_=user)
    assert (plain.value.status, plain.value.code, plain.value.hint) == (400, "P0001", "try again")
    with pytest.raises(ApiError) as pt:
        api_db.rpc("fail_pt", {}, as_=user)
    assert (pt.value.status, pt.value.code) == (409, "PT409")
    for who, status in ((anon, 401), (user, 403)):
        with pytest.raises(ApiError) as denied:
            api_db.query_as(who, "select * from public.secret")
        assert (denied.value.status, denied.value.code) == (status, "42501")


def test_failed_request_rolls_back_and_the_next_one_works(api_db: TestDatabase) -> None:
    user = api_db.create_user()
    api_db.sql("create table public.log (v int); grant insert, select on public.log to authenticated")
    with pytest.raises(ApiError), api_db.request(user) as cur:
        cur.execute("insert into public.log values (1)")
        cur.execute("select 1/0")
    assert api_db.query_as(user, "select count(*) from public.log") == [(0,)]
    assert api_db.query_as(user, "select current_user") == [("authenticated",)]
    assert api_db.scalar("select current_user") == "postgres"


def test_volatile_functions_get_read_write_and_stable_read_only(kwq8_db: TestDatabase) -> None:
    kwq8_db.sql(
        "create table public.t (v int); grant insert, select on public.t to authenticated;"
        "create function public.writer() returns int language sql as "
        "$$ insert into public.t values (1) returning v $$;"
        "create function public.sneaky() returns int language sql stable as $$ select public.writer() $$;"
        "grant execute on function public.writer(), public.sneaky() to authenticated"
    )
    with pytest.raises(ApiError) as info:
        kwq8_db.rpc("sneaky", {}, as_=kwq8_db.create_user())
    assert (info.value.status, info.value.code) == (405, "25006")
    assert kwq8_db.rpc("writer", {}, as_=kwq8_db.create_user()) == 1


def test_pre_request_function_runs_before_every_request(kwq8_db: TestDatabase) -> None:
    kwq8_db.sql("""
        create function public.check_request() returns void language plpgsql as $$
        begin
            if current_setting('request.headers', true)::jsonb ->> 'x-block' = 'yes' then
                raise sqlstate 'PGRST' using message = '{"code":"RATE_001","message":"slow down"}',
                    detail = '{"status":429}';
            end if;
        end $$;
        grant execute on function public.check_request() to anon, authenticated;
    """)
    admin = kwq8_db.connect("supabase_admin")
    # Set for this database, replacing the limiter the migrations configured (PostgREST reads a
    # database's own role settings before the cluster-wide ones).
    admin.execute(
        f"alter role authenticator in database {kwq8_db.name} set pgrst.db_pre_request = 'public.check_request'"
    )
    try:
        api = kwq8_db.api()
        with (
            pytest.raises(ApiError) as info,
            api.request(Identity.anon(), headers={"X-Block": "yes"}),
        ):
            pass
        assert (info.value.status, info.value.code) == (429, "RATE_001")
        with api.request(Identity.anon(), headers={"X-Block": "no"}) as cur:
            cur.execute("select 1")
    finally:
        admin.execute(f"alter role authenticator in database {kwq8_db.name} reset pgrst.db_pre_request")


def test_status_table() -> None:
    assert http_status("23505", True) == 409
    assert http_status("42501", False) == 401
    assert http_status("08006", True) == 503
    assert http_status("22023", True) == 400
    assert http_status("P0002", True) == 500
