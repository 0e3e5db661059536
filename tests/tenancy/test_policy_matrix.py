"""The access review: RLS policies and API-role grants per table (`kwq8 db policies`)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import typer
from typer.testing import CliRunner

from kwq8.cli import db as cli_db
from kwq8.policy_matrix import (
    PolicyRow,
    TableGrants,
    grant_code,
    grant_lines,
    grant_table,
    policy_lines,
    policy_rows,
    policy_table,
    rls_state,
    table_grants,
)
from kwq8.testing.database import TestDatabase

SCHEMA = """
create table public.pm_notes (
    id bigint generated always as identity primary key,
    owner_id uuid not null,
    body text
);
alter table public.pm_notes enable row level security;
create policy pm_read on public.pm_notes for select to anon, authenticated using (true);
create policy pm_own on public.pm_notes for all to authenticated
    using ((select auth.uid()) = owner_id)
    with check ((select auth.uid()) = owner_id);
create policy pm_mfa on public.pm_notes as restrictive for update to public
    using (((select auth.jwt()) ->> 'aal') = 'aal2');
create policy pm_insert on public.pm_notes for insert to authenticated
    with check (owner_id is not null);

create table private.pm_secret (id int primary key);
alter table private.pm_secret enable row level security;
create policy pm_hidden on private.pm_secret for select to authenticated using (true);
"""

GRANTS = """
grant select on public.pm_notes to anon;
grant update (body) on public.pm_notes to anon;
grant select, insert, update, delete on public.pm_notes to authenticated;
grant all on public.pm_notes to service_role;
"""


def conn_of(db: TestDatabase) -> psycopg.Connection[Any]:
    return db.default_api.conn


def rows_for(db: TestDatabase, table: str, schemas: list[str] | None = None) -> dict[str, PolicyRow]:
    rows = policy_rows(conn_of(db), schemas or ["public"])
    return {r.name: r for r in rows if r.table == table}


def grants_for(db: TestDatabase, relation: str, schemas: list[str] | None = None) -> TableGrants:
    [found] = [g for g in table_grants(conn_of(db), schemas or ["public"]) if g.relation == relation]
    return found


# --------------------------------------------------------------------------- policies


def test_policy_rows_describe_each_policy(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql(SCHEMA)
    rows = rows_for(kwq8_tx, "pm_notes")
    assert set(rows) == {"pm_read", "pm_own", "pm_mfa", "pm_insert"}

    read = rows["pm_read"]
    assert (read.schema, read.relation, read.permissive, read.command) == (
        "public",
        "public.pm_notes",
        "PERMISSIVE",
        "SELECT",
    )
    assert read.roles == ("anon", "authenticated")
    assert (read.using, read.with_check) == ("true", None)

    own = rows["pm_own"]
    assert own.command == "ALL" and own.roles == ("authenticated",)
    assert own.using == own.with_check == "(( SELECT auth.uid() AS uid) = owner_id)"

    mfa = rows["pm_mfa"]
    assert (mfa.permissive, mfa.command, mfa.roles) == ("RESTRICTIVE", "UPDATE", ("public",))

    insert = rows["pm_insert"]
    assert (insert.using, insert.with_check) == (None, "(owner_id IS NOT NULL)")


def test_policy_rows_only_cover_the_given_schemas(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql(SCHEMA)
    public = policy_rows(conn_of(kwq8_tx), ["public"])
    assert all(r.schema == "public" for r in public)
    assert "pm_hidden" not in {r.name for r in public}
    private = rows_for(kwq8_tx, "pm_secret", ["private"])
    assert set(private) == {"pm_hidden"}


def test_policy_expressions_are_schema_qualified_whatever_the_search_path(
    kwq8_tx: TestDatabase,
) -> None:
    kwq8_tx.sql(
        SCHEMA
        + """
        create table private.pm_members (user_id uuid primary key);
        create policy pm_member on public.pm_notes for delete to authenticated
            using (exists (select 1 from private.pm_members m where m.user_id = auth.uid()));
    """
    )
    kwq8_tx.sql("select set_config('search_path', 'public, private, auth', true)")
    using = rows_for(kwq8_tx, "pm_notes")["pm_member"].using
    assert using is not None
    assert "private.pm_members" in using and "auth.uid()" in using
    assert kwq8_tx.scalar("select current_setting('search_path')") == "public, private, auth"


def test_policy_row_as_dict_is_json_ready(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql(SCHEMA)
    data = rows_for(kwq8_tx, "pm_notes")["pm_read"].as_dict()
    assert json.loads(json.dumps(data))["roles"] == ["anon", "authenticated"]


# --------------------------------------------------------------------------- grants


def test_table_grants_per_role(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql(SCHEMA + GRANTS)
    notes = grants_for(kwq8_tx, "public.pm_notes")
    assert (notes.kind, notes.rls_enabled, notes.rls_forced, notes.policy_count) == (
        "table",
        True,
        False,
        4,
    )
    assert notes.privileges == {
        "anon": ("select",),
        "authenticated": ("select", "insert", "update", "delete"),
        "service_role": ("select", "insert", "update", "delete"),
    }
    # anon may update the body column only: no table privilege, a column privilege
    assert notes.column_privileges["anon"] == ("update",)
    assert notes.column_privileges["authenticated"] == ()
    assert [grant_code(notes, role) for role in ("anon", "authenticated", "service_role")] == [
        "S-u-",
        "SIUD",
        "SIUD",
    ]


def test_table_without_grants_shows_nothing(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql("create table public.pm_bare (id int primary key)")
    bare = grants_for(kwq8_tx, "public.pm_bare")
    assert bare.privileges == {"anon": (), "authenticated": (), "service_role": ()}
    assert (rls_state(bare), bare.policy_count) == ("off", 0)
    assert grant_code(bare, "anon") == "----"


def test_grant_to_public_counts_for_every_role(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql("create table public.pm_open (id int primary key); grant select on public.pm_open to public")
    open_table = grants_for(kwq8_tx, "public.pm_open")
    assert all(p == ("select",) for p in open_table.privileges.values())


def test_views_and_forced_rls(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql(
        SCHEMA
        + """
        alter table public.pm_notes force row level security;
        create view public.pm_view with (security_invoker = true) as select id from public.pm_notes;
        create materialized view public.pm_mv as select 1 as x;
        grant select on public.pm_view to authenticated;
    """
    )
    assert rls_state(grants_for(kwq8_tx, "public.pm_notes")) == "forced"
    view = grants_for(kwq8_tx, "public.pm_view")
    assert (view.kind, rls_state(view)) == ("view", "n/a")
    assert view.privileges["authenticated"] == ("select",)
    assert grants_for(kwq8_tx, "public.pm_mv").kind == "materialized view"


def test_grants_only_cover_the_given_schemas(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql(SCHEMA)
    relations = {g.relation for g in table_grants(conn_of(kwq8_tx), ["public"])}
    assert "public.pm_notes" in relations and "private.pm_secret" not in relations


def test_missing_roles_are_left_out(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql("create table public.pm_bare (id int primary key)")
    [bare] = [
        g
        for g in table_grants(conn_of(kwq8_tx), ["public"], roles=["anon", "no_such_role"])
        if g.relation == "public.pm_bare"
    ]
    assert set(bare.privileges) == {"anon"}


# --------------------------------------------------------------------------- rendering and CLI


def test_renderers(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql(SCHEMA + GRANTS)
    rows = [r for r in policy_rows(conn_of(kwq8_tx), ["public"]) if r.table == "pm_notes"]
    grants = [g for g in table_grants(conn_of(kwq8_tx), ["public"]) if g.table == "pm_notes"]
    assert (
        "public.pm_notes 'pm_insert' permissive INSERT to authenticated "
        "with check ((owner_id IS NOT NULL))" in policy_lines(rows)
    )
    assert grant_lines(grants) == [
        "public.pm_notes table rls=on policies=4 anon=S-u- authenticated=SIUD service_role=SIUD"
    ]
    assert policy_table(rows).row_count == 4
    assert grant_table(grants).row_count == 1


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(cli_db.app)
    return app


def test_policies_command(kwq8_db: TestDatabase) -> None:
    kwq8_db.sql(SCHEMA + GRANTS)
    runner = CliRunner()
    url = kwq8_db.url("postgres")

    plain = runner.invoke(_cli(), ["db", "policies", "--db-url", url])
    assert plain.exit_code == 0, plain.output
    assert "public.pm_notes 'pm_read' permissive SELECT to anon, authenticated using (true)" in plain.stdout
    assert "anon=S-u-" in plain.stdout

    as_json = runner.invoke(_cli(), ["db", "policies", "--json"], env={"KWQ8_DB_URL": url})
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["schemas"] == ["public", "graphql_public"]
    assert {p["name"] for p in data["policies"] if p["table"] == "pm_notes"} == {
        "pm_read",
        "pm_own",
        "pm_mfa",
        "pm_insert",
    }
    [notes] = [g for g in data["grants"] if g["table"] == "pm_notes"]
    assert notes["privileges"]["anon"] == ["select"]
    assert notes["column_privileges"]["anon"] == ["update"]
