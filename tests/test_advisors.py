"""The database advisors: the project's schema is clean, and every lint catches what it names.

Each violation is created inside `kwq8_tx` (rolled back). Findings are compared before and after,
so objects other tests or migrations add to the shared schema do not disturb the assertions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from kwq8.advisors import (
    LINTS,
    LINTS_BY_NAME,
    Finding,
    at_least,
    counts,
    exit_code,
    render_lines,
    render_table,
    run_advisors,
)
from kwq8.cli_audit import register
from kwq8.config import Project
from kwq8.pgserver import BOOTSTRAP_SUPERUSER
from kwq8.testing.database import TestDatabase

ROOT = Path(__file__).resolve().parent.parent


def conn_of(db: TestDatabase) -> psycopg.Connection[Any]:
    """The connection holding the test's transaction."""
    return db.default_api.conn


def findings(db: TestDatabase, exposed: list[str] | None = None) -> list[Finding]:
    return run_advisors(conn_of(db), exposed if exposed is not None else list(db.schemas))


def fired(db: TestDatabase, ddl: str) -> dict[str, set[str]]:
    """Run `ddl`; return, per lint, the objects of the findings it added."""
    before = set(findings(db))
    db.sql(ddl)
    added: dict[str, set[str]] = {}
    for f in set(findings(db)) - before:
        added.setdefault(f.name, set()).add(f.object)
    return added


def objects(db: TestDatabase, lint: str, ddl: str) -> set[str]:
    return fired(db, ddl).get(lint, set())


# --------------------------------------------------------------------------- the project itself


def test_project_schema_has_no_error_or_warning(kwq8_tx: TestDatabase, kwq8_project: Project) -> None:
    result = run_advisors(conn_of(kwq8_tx), kwq8_project.exposed_schemas)
    assert [f.render() for f in at_least(result, "warn")] == []


def test_run_leaves_the_callers_search_path_alone(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql("select set_config('search_path', 'public, extensions', true)")
    findings(kwq8_tx)
    assert kwq8_tx.scalar("select current_setting('search_path')") == "public, extensions"


def test_levels_and_categories_follow_splinter() -> None:
    expected = {
        "unindexed_foreign_keys": ("INFO", "PERFORMANCE"),
        "auth_users_exposed": ("ERROR", "SECURITY"),
        "auth_rls_initplan": ("WARN", "PERFORMANCE"),
        "no_primary_key": ("INFO", "PERFORMANCE"),
        "multiple_permissive_policies": ("WARN", "PERFORMANCE"),
        "policy_exists_rls_disabled": ("ERROR", "SECURITY"),
        "rls_enabled_no_policy": ("INFO", "SECURITY"),
        "duplicate_index": ("WARN", "PERFORMANCE"),
        "security_definer_view": ("ERROR", "SECURITY"),
        "function_search_path_mutable": ("WARN", "SECURITY"),
        "rls_disabled_in_public": ("ERROR", "SECURITY"),
        "extension_in_public": ("WARN", "SECURITY"),
        "rls_references_user_metadata": ("ERROR", "SECURITY"),
        "materialized_view_in_api": ("WARN", "SECURITY"),
        "foreign_table_in_api": ("WARN", "SECURITY"),
        "unsupported_reg_types": ("WARN", "SECURITY"),
        "fkey_to_auth_unique": ("ERROR", "SECURITY"),
        "rls_policy_always_true": ("WARN", "SECURITY"),
        "anon_security_definer_function_executable": ("WARN", "SECURITY"),
        "authenticated_security_definer_function_executable": ("WARN", "SECURITY"),
        "data_api_limiter_missing": ("ERROR", "SECURITY"),
    }
    actual = {lint.name: (lint.level, *lint.categories) for lint in LINTS}
    assert actual == expected


# --------------------------------------------------------------------------- every lint fires

# A table with RLS on, a primary key and a policy: clean on its own, the base for policy cases.
CLEAN_TABLE = """
create table public.adv_notes (
    id bigint generated always as identity primary key,
    owner_id uuid not null,
    body text
);
alter table public.adv_notes enable row level security;
"""

VIOLATIONS: dict[str, tuple[str, str]] = {
    "data_api_limiter_missing": (
        """
        do $$
        begin
            execute format('alter role authenticator in database %I set pgrst.db_pre_request = %L',
                current_database(), 'public.elsewhere');
        end
        $$
        """,
        "role authenticator",
    ),
    "rls_disabled_in_public": (
        "create table public.adv_open (id int primary key)",
        "public.adv_open",
    ),
    "policy_exists_rls_disabled": (
        """
        create table public.adv_t (id int primary key);
        create policy adv_read on public.adv_t for select to authenticated using (true);
        """,
        "public.adv_t",
    ),
    "rls_enabled_no_policy": (
        """
        create table private.adv_locked (id int primary key);
        alter table private.adv_locked enable row level security;
        """,
        "private.adv_locked",
    ),
    "function_search_path_mutable": (
        "create function private.adv_f(x int) returns int language sql as 'select x + 1'",
        "private.adv_f(integer)",
    ),
    "security_definer_view": (
        "create view public.adv_v as select 1 as x",
        "public.adv_v",
    ),
    "auth_users_exposed": (
        """
        create view public.adv_users with (security_invoker = true) as
            select id, email from auth.users;
        grant select on public.adv_users to authenticated;
        """,
        "public.adv_users",
    ),
    "auth_rls_initplan": (
        CLEAN_TABLE + "create policy adv_own on public.adv_notes for select to authenticated "
        "using (auth.uid() = owner_id);",
        "public.adv_notes",
    ),
    "multiple_permissive_policies": (
        CLEAN_TABLE
        + """
        create policy adv_a on public.adv_notes for select to authenticated
            using ((select auth.uid()) = owner_id);
        create policy adv_b on public.adv_notes for select to authenticated
            using (body is not null);
        """,
        "public.adv_notes",
    ),
    "unindexed_foreign_keys": (
        """
        create table private.adv_parent (id int primary key);
        create table private.adv_child (
            id int primary key,
            parent_id int references private.adv_parent (id)
        );
        """,
        "private.adv_child",
    ),
    "no_primary_key": (
        "create table private.adv_log (at timestamptz, message text)",
        "private.adv_log",
    ),
    "duplicate_index": (
        """
        create table private.adv_dup (id int primary key, email text);
        create index adv_dup_email_a on private.adv_dup (email);
        create index adv_dup_email_b on private.adv_dup (email);
        """,
        "private.adv_dup",
    ),
    "anon_security_definer_function_executable": (
        """
        create function public.adv_sd() returns int language sql security definer
            set search_path = '' as 'select 1';
        grant execute on function public.adv_sd() to anon;
        """,
        "public.adv_sd()",
    ),
    "authenticated_security_definer_function_executable": (
        """
        create function public.adv_sd() returns int language sql security definer
            set search_path = '' as 'select 1';
        grant execute on function public.adv_sd() to authenticated;
        """,
        "public.adv_sd()",
    ),
    "rls_policy_always_true": (
        CLEAN_TABLE + "create policy adv_ins on public.adv_notes for insert to authenticated with check (true);",
        "public.adv_notes",
    ),
    "materialized_view_in_api": (
        """
        create materialized view public.adv_mv as select 1 as x;
        grant select on public.adv_mv to anon;
        """,
        "public.adv_mv",
    ),
    "fkey_to_auth_unique": (
        """
        create table private.adv_contact (
            id int primary key,
            phone text references auth.users (phone)
        );
        create index on private.adv_contact (phone);
        """,
        "private.adv_contact",
    ),
    "rls_references_user_metadata": (
        CLEAN_TABLE + "create policy adv_meta on public.adv_notes for select to authenticated "
        "using (((select auth.jwt()) -> 'user_metadata' ->> 'role') = 'admin');",
        "public.adv_notes",
    ),
    "unsupported_reg_types": (
        "create table private.adv_reg (id int primary key, fn regproc)",
        "private.adv_reg",
    ),
}

# Tested on their own below, in a committed database where a superuser sets them up: a foreign
# table needs a foreign data wrapper (superuser only), and in the test databases `postgres` lacks
# CREATE on the database, which even trusted extensions require.
TESTED_APART = {"foreign_table_in_api", "extension_in_public"}


def test_every_lint_has_a_violation_test() -> None:
    assert set(VIOLATIONS) | TESTED_APART == set(LINTS_BY_NAME)


@pytest.mark.parametrize("lint", sorted(VIOLATIONS))
def test_lint_fires_on_exactly_the_violating_object(kwq8_tx: TestDatabase, lint: str) -> None:
    ddl, expected = VIOLATIONS[lint]
    assert objects(kwq8_tx, lint, ddl) == {expected}


@pytest.mark.parametrize("lint", sorted(VIOLATIONS))
def test_finding_carries_the_lints_metadata(kwq8_tx: TestDatabase, lint: str) -> None:
    ddl, expected = VIOLATIONS[lint]
    kwq8_tx.sql(ddl)
    found = [f for f in findings(kwq8_tx) if f.name == lint and f.object == expected]
    assert found, lint
    meta = LINTS_BY_NAME[lint]
    for f in found:
        assert (f.level, f.categories, f.title) == (meta.level, meta.categories, meta.title)
        assert f.detail and f.remediation
        assert f.docs_url.startswith("https://supabase.com/docs/guides/database/database-linter") or (
            meta.docs and (ROOT / f.docs_url).exists()
        )


def test_foreign_table_in_api(kwq8_db: TestDatabase) -> None:
    admin = kwq8_db.connect(BOOTSTRAP_SUPERUSER)
    admin.execute("create extension postgres_fdw schema extensions")
    admin.execute("create server adv_remote foreign data wrapper postgres_fdw")
    admin.execute("create foreign table public.adv_ft (id int) server adv_remote")
    admin.execute("create foreign table public.adv_hidden (id int) server adv_remote")
    admin.execute("grant select on public.adv_ft to anon")
    result = run_advisors(kwq8_db.connect("postgres"), list(kwq8_db.schemas))
    assert {f.object for f in result if f.name == "foreign_table_in_api"} == {"public.adv_ft"}


def test_extension_in_public(kwq8_db: TestDatabase) -> None:
    conn = kwq8_db.connect("postgres")
    before = set(run_advisors(conn, list(kwq8_db.schemas)))
    admin = kwq8_db.connect(BOOTSTRAP_SUPERUSER)
    admin.execute("create extension pg_trgm schema public")
    admin.execute("create extension hstore schema private")
    added = set(run_advisors(conn, list(kwq8_db.schemas))) - before
    assert {f.object for f in added if f.name == "extension_in_public"} == {"pg_trgm"}
    # The extensions' own functions (none has a search_path setting) are theirs to fix.
    assert [f.object for f in added if f.name == "function_search_path_mutable"] == []


# --------------------------------------------------------------------------- near misses


def test_rls_disabled_ignores_unexposed_and_protected_tables(kwq8_tx: TestDatabase) -> None:
    added = fired(
        kwq8_tx,
        """
        create table private.adv_internal (id int primary key);
        create table public.adv_safe (id int primary key);
        alter table public.adv_safe enable row level security;
    """,
    )
    assert "rls_disabled_in_public" not in added


def test_rls_disabled_detail_names_granted_roles(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql("create table public.adv_open (id int primary key); grant select on public.adv_open to anon")
    [finding] = [f for f in findings(kwq8_tx) if f.name == "rls_disabled_in_public" and f.object == "public.adv_open"]
    assert "anon" in finding.detail and "authenticated" not in finding.detail


def test_rls_disabled_only_checks_the_exposed_schemas_given(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql("create table public.adv_open (id int primary key)")
    names = {f.name for f in findings(kwq8_tx, exposed=["graphql_public"])}
    assert "rls_disabled_in_public" not in names


def test_policy_exists_rls_disabled_clears_once_rls_is_on(kwq8_tx: TestDatabase) -> None:
    ddl, _ = VIOLATIONS["policy_exists_rls_disabled"]
    added = fired(kwq8_tx, ddl + "alter table public.adv_t enable row level security;")
    assert "policy_exists_rls_disabled" not in added


def test_rls_enabled_with_a_policy_is_fine(kwq8_tx: TestDatabase) -> None:
    added = fired(
        kwq8_tx,
        CLEAN_TABLE
        + """
        create policy adv_own on public.adv_notes for select to authenticated
            using ((select auth.uid()) = owner_id);
    """,
    )
    assert added == {}


@pytest.mark.parametrize("setting", ["set search_path = ''", "set search_path = private, pg_temp"])
def test_function_with_pinned_search_path_is_fine(kwq8_tx: TestDatabase, setting: str) -> None:
    ddl = f"create function private.adv_f(x int) returns int language sql {setting} as 'select x'"
    assert "function_search_path_mutable" not in fired(kwq8_tx, ddl)


def test_procedures_are_checked_for_search_path(kwq8_tx: TestDatabase) -> None:
    ddl = "create procedure private.adv_p() language sql as 'select 1'"
    assert objects(kwq8_tx, "function_search_path_mutable", ddl) == {"private.adv_p()"}


@pytest.mark.parametrize(
    "option",
    [
        "security_invoker",
        "security_invoker = true",
        "security_invoker = on",
        "security_invoker = 1",
    ],
)
def test_security_invoker_view_is_fine(kwq8_tx: TestDatabase, option: str) -> None:
    ddl = f"create view public.adv_v with ({option}) as select 1 as x"
    assert "security_definer_view" not in fired(kwq8_tx, ddl)


def test_security_invoker_false_is_flagged(kwq8_tx: TestDatabase) -> None:
    ddl = "create view public.adv_v with (security_invoker = false) as select 1 as x"
    assert objects(kwq8_tx, "security_definer_view", ddl) == {"public.adv_v"}


def test_definer_view_outside_exposed_schemas_is_fine(kwq8_tx: TestDatabase) -> None:
    assert "security_definer_view" not in fired(kwq8_tx, "create view private.adv_v as select 1")


def test_auth_users_view_without_api_grant_is_fine(kwq8_tx: TestDatabase) -> None:
    ddl = """
        create view public.adv_users with (security_invoker = true) as
            select id, email from auth.users;
    """
    assert "auth_users_exposed" not in fired(kwq8_tx, ddl)


def test_auth_users_exposed_through_a_private_view(kwq8_tx: TestDatabase) -> None:
    ddl = """
        create view private.adv_base as select id, email from auth.users;
        create view public.adv_wrapper with (security_invoker = true) as
            select email from private.adv_base;
        grant select on public.adv_wrapper to anon;
    """
    assert objects(kwq8_tx, "auth_users_exposed", ddl) == {"public.adv_wrapper"}


def test_auth_users_exposed_through_a_materialized_view(kwq8_tx: TestDatabase) -> None:
    added = fired(
        kwq8_tx,
        """
        create materialized view public.adv_emails as select id, email from auth.users;
        grant select on public.adv_emails to authenticated;
    """,
    )
    assert added["auth_users_exposed"] == {"public.adv_emails"}
    assert added["materialized_view_in_api"] == {"public.adv_emails"}


@pytest.mark.parametrize(
    ("clause", "flagged"),
    [
        ("using (auth.uid() = owner_id)", True),
        ("using ((select auth.uid()) = owner_id)", False),
        ("using ((select auth.uid() = owner_id))", False),
        ("using (owner_id = (select auth.uid()) or auth.jwt() ->> 'role' = 'admin')", True),
        ("using ((select auth.jwt() ->> 'role') = 'admin')", False),
        ("using (auth.role() = 'authenticated')", True),
        ("using (auth.email() like '%@kwq8.com')", True),
        ("using (current_setting('request.jwt.claims', true) is not null)", True),
        ("using ((select current_setting('request.jwt.claims', true)) is not null)", False),
        (
            "using (exists (select 1 from private.adv_members m where m.user_id = (select auth.uid())))",
            False,
        ),
        # a sub-select is not enough: the call inside it must be its own (select ...)
        (
            "using (exists (select 1 from private.adv_members m where m.user_id = auth.uid()))",
            True,
        ),
        ("using (owner_id is not null)", False),
    ],
)
def test_auth_rls_initplan_wrapping(kwq8_tx: TestDatabase, clause: str, flagged: bool) -> None:
    ddl = (
        CLEAN_TABLE
        + f"""
        create table private.adv_members (user_id uuid primary key);
        create policy adv_p on public.adv_notes for select to authenticated {clause};
    """
    )
    assert ("auth_rls_initplan" in fired(kwq8_tx, ddl)) is flagged


def test_auth_rls_initplan_checks_with_check(kwq8_tx: TestDatabase) -> None:
    ddl = (
        CLEAN_TABLE
        + """
        create policy adv_p on public.adv_notes for insert to authenticated
            with check (owner_id = auth.uid());
    """
    )
    kwq8_tx.sql(ddl)
    [finding] = [f for f in findings(kwq8_tx) if f.name == "auth_rls_initplan" and f.object == "public.adv_notes"]
    assert "(with check)" in finding.detail and "auth.uid()" in finding.detail


@pytest.mark.parametrize(
    ("policies", "flagged"),
    [
        # `for all` to PUBLIC overlaps a select policy for anon
        (
            "for all using (true); create policy adv_b on public.adv_notes for select to anon using (true)",
            True,
        ),
        # different actions
        (
            "for select to authenticated using (true); create policy adv_b on public.adv_notes "
            "for insert to authenticated with check (true)",
            False,
        ),
        # different roles
        (
            "for select to anon using (true); create policy adv_b on public.adv_notes "
            "for select to authenticated using (true)",
            False,
        ),
        # restrictive policies are AND-ed, not OR-ed
        (
            "for select to authenticated using (true); create policy adv_b on public.adv_notes "
            "as restrictive for select to authenticated using (owner_id is not null)",
            False,
        ),
        # service_role bypasses RLS, so its policies never run
        (
            "for select to service_role using (true); create policy adv_b on public.adv_notes "
            "for select to service_role using (true)",
            False,
        ),
    ],
)
def test_multiple_permissive_policies_cases(kwq8_tx: TestDatabase, policies: str, flagged: bool) -> None:
    ddl = CLEAN_TABLE + f"create policy adv_a on public.adv_notes {policies};"
    assert ("multiple_permissive_policies" in fired(kwq8_tx, ddl)) is flagged


def test_multiple_permissive_policies_reports_role_and_action(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql(
        CLEAN_TABLE
        + """
        create policy adv_a on public.adv_notes for all to authenticated using (true);
        create policy adv_b on public.adv_notes for update to authenticated using (true);
    """
    )
    details = {
        f.detail
        for f in findings(kwq8_tx)
        if f.name == "multiple_permissive_policies" and f.object == "public.adv_notes"
    }
    assert len(details) == 1
    [detail] = details
    assert detail.startswith("role authenticated, update:") and "adv_a, adv_b" in detail


FK_TABLES = """
create table private.adv_parent (a int, b int, primary key (a, b));
create table private.adv_child (
    id int primary key,
    a int,
    b int,
    created_at timestamptz,
    foreign key (a, b) references private.adv_parent (a, b)
);
"""


@pytest.mark.parametrize(
    ("index", "flagged"),
    [
        ("(a, b)", False),
        ("(b, a)", False),
        ("(a, b, created_at)", False),
        ("(a)", True),
        ("(created_at, a, b)", True),
        ("(a) include (b)", True),
        ("(a, b) where created_at is not null", True),
    ],
)
def test_foreign_key_index_coverage(kwq8_tx: TestDatabase, index: str, flagged: bool) -> None:
    ddl = FK_TABLES + f"create index on private.adv_child {index};"
    assert ("unindexed_foreign_keys" in fired(kwq8_tx, ddl)) is flagged


def test_partitions_of_a_keyed_table_have_their_key(kwq8_tx: TestDatabase) -> None:
    added = fired(
        kwq8_tx,
        """
        create table private.adv_events (id bigint, at date, primary key (id, at))
            partition by range (at);
        create table private.adv_events_2026 partition of private.adv_events
            for values from ('2026-01-01') to ('2027-01-01');
    """,
    )
    assert "no_primary_key" not in added


def test_partitioned_table_without_key_is_reported_once(kwq8_tx: TestDatabase) -> None:
    ddl = """
        create table private.adv_events (id bigint, at date) partition by range (at);
        create table private.adv_events_2026 partition of private.adv_events
            for values from ('2026-01-01') to ('2027-01-01');
    """
    assert objects(kwq8_tx, "no_primary_key", ddl) == {"private.adv_events"}


@pytest.mark.parametrize(
    ("indexes", "flagged"),
    [
        ("create index adv_i1 on private.adv_dup (email, id)", False),
        ("create index adv_i1 on private.adv_dup (lower(email))", False),
        ("create index adv_i1 on private.adv_dup (email) where id > 0", False),
        ("create index adv_i1 on private.adv_dup using hash (email)", False),
        (
            "create index adv_i1 on private.adv_dup (lower(email)); "
            "create index adv_i2 on private.adv_dup (lower(email))",
            True,
        ),
        # a plain index repeating the primary key
        ("create index adv_i1 on private.adv_dup (id)", True),
    ],
)
def test_duplicate_index_cases(kwq8_tx: TestDatabase, indexes: str, flagged: bool) -> None:
    ddl = f"""
        create table private.adv_dup (id int primary key, email text);
        create index adv_i0 on private.adv_dup (email);
        {indexes};
    """
    assert ("duplicate_index" in fired(kwq8_tx, ddl)) is flagged


def test_security_definer_function_grants(kwq8_tx: TestDatabase) -> None:
    definer = """
        create function {schema}.adv_sd() returns int language sql security definer
            set search_path = '' as 'select 1';
    """
    anon = "anon_security_definer_function_executable"
    authenticated = "authenticated_security_definer_function_executable"
    # not granted: nobody can call it
    added = fired(kwq8_tx, definer.format(schema="public"))
    assert anon not in added and authenticated not in added
    # granted to PUBLIC: both roles can
    added = fired(kwq8_tx, "grant execute on function public.adv_sd() to public")
    assert added[anon] == {"public.adv_sd()"} and added[authenticated] == {"public.adv_sd()"}
    # outside the exposed schemas it is not reachable through /rpc
    added = fired(
        kwq8_tx,
        definer.format(schema="private") + "grant execute on function private.adv_sd() to anon, authenticated;",
    )
    assert anon not in added and authenticated not in added


def test_security_invoker_function_executable_is_fine(kwq8_tx: TestDatabase) -> None:
    added = fired(
        kwq8_tx,
        """
        create function public.adv_inv() returns int language sql set search_path = ''
            as 'select 1';
        grant execute on function public.adv_inv() to anon, authenticated;
    """,
    )
    assert added == {}


@pytest.mark.parametrize(
    ("policy", "flagged"),
    [
        ("for select to anon using (true)", False),
        ("for insert to service_role with check (true)", False),
        ("for insert to authenticated with check ((select auth.uid()) = owner_id)", False),
        ("for update to authenticated using (true)", True),
        (
            "for update to authenticated using ((select auth.uid()) = owner_id) with check (true)",
            True,
        ),
        ("for delete using (true)", True),
        ("for all to anon using (true)", True),
        ("as restrictive for insert to authenticated with check (true)", False),
    ],
)
def test_rls_policy_always_true_cases(kwq8_tx: TestDatabase, policy: str, flagged: bool) -> None:
    ddl = CLEAN_TABLE + f"create policy adv_p on public.adv_notes {policy};"
    assert ("rls_policy_always_true" in fired(kwq8_tx, ddl)) is flagged


def test_materialized_view_without_api_grant_is_fine(kwq8_tx: TestDatabase) -> None:
    ddl = "create materialized view public.adv_mv as select 1 as x"
    assert "materialized_view_in_api" not in fired(kwq8_tx, ddl)


def test_foreign_key_to_auth_users_id_is_fine(kwq8_tx: TestDatabase) -> None:
    ddl = """
        create table private.adv_profile (id uuid primary key references auth.users (id));
    """
    assert "fkey_to_auth_unique" not in fired(kwq8_tx, ddl)


def test_app_metadata_in_policy_is_fine(kwq8_tx: TestDatabase) -> None:
    ddl = (
        CLEAN_TABLE
        + """
        create policy adv_p on public.adv_notes for select to authenticated
            using (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');
    """
    )
    assert "rls_references_user_metadata" not in fired(kwq8_tx, ddl)


def test_allowed_reg_types_are_fine(kwq8_tx: TestDatabase) -> None:
    ddl = "create table private.adv_reg (id int primary key, t regclass, r regrole, y regtype)"
    assert "unsupported_reg_types" not in fired(kwq8_tx, ddl)


# --------------------------------------------------------------------------- helpers and output


def _finding(level: str, name: str = "x") -> Finding:
    lint = LINTS_BY_NAME["no_primary_key"]
    return Finding(name, lint.title, level, lint.categories, "public.t", "d", "r")  # type: ignore[arg-type]


def test_exit_code_fails_on_error_or_warn_only() -> None:
    assert exit_code([]) == 0
    assert exit_code([_finding("INFO")]) == 0
    assert exit_code([_finding("INFO"), _finding("WARN")]) == 1
    assert exit_code([_finding("ERROR")]) == 1


def test_level_filter_and_counts() -> None:
    all_levels = [_finding("INFO"), _finding("WARN"), _finding("ERROR")]
    assert [f.level for f in at_least(all_levels, "warn")] == ["WARN", "ERROR"]
    assert [f.level for f in at_least(all_levels, "ERROR")] == ["ERROR"]
    assert counts(all_levels) == {"ERROR": 1, "WARN": 1, "INFO": 1}


def test_renderers() -> None:
    finding = Finding(
        "no_primary_key",
        "No primary key",
        "INFO",
        ("PERFORMANCE",),
        "public.t",
        "table has no primary key [text[]]",
        "Add one.",
    )
    assert render_lines([finding]) == ["INFO no_primary_key public.t: table has no primary key [text[]]"]
    assert render_table([finding]).row_count == 1
    assert finding.as_dict()["categories"] == ["PERFORMANCE"]


def _cli() -> typer.Typer:
    app = typer.Typer()
    db_app = typer.Typer()
    register(db_app)
    app.add_typer(db_app, name="db")
    return app


def test_audit_command(kwq8_db: TestDatabase) -> None:
    runner = CliRunner()
    url = kwq8_db.url("postgres")
    clean = runner.invoke(_cli(), ["db", "audit", "--db-url", url, "--level", "warn"])
    assert clean.exit_code == 0, clean.output

    kwq8_db.sql("create table public.adv_open (id int primary key)")
    failing = runner.invoke(_cli(), ["db", "audit", "--db-url", url])
    assert failing.exit_code == 1, failing.output
    assert "ERROR rls_disabled_in_public public.adv_open: RLS is disabled" in failing.stdout

    as_json = runner.invoke(_cli(), ["db", "audit", "--json", "--level", "ERROR"], env={"KWQ8_DB_URL": url})
    assert as_json.exit_code == 1
    rows = json.loads(as_json.stdout)
    assert {(r["name"], r["object"]) for r in rows} == {("rls_disabled_in_public", "public.adv_open")}
    assert all(r["level"] == "ERROR" for r in rows)
