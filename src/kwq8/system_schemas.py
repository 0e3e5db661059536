"""Schemas whose objects belong to PostgreSQL, Supabase's services, extensions or this toolkit,
not to the application: the advisors' user-object lints and the catalog guards both skip them,
so the two never disagree about what counts as the application's own."""

from __future__ import annotations

SYSTEM_SCHEMAS: tuple[str, ...] = (
    "auth",
    "cron",
    "extensions",
    "graphql",
    "graphql_public",
    "information_schema",
    "kwq8_meta",
    "kwq8_shim",
    "net",
    "pg_catalog",
    "pg_toast",
    "pgbouncer",
    "pgmq",
    "pgsodium",
    "pgsodium_masks",
    "pgtle",
    "realtime",
    "repack",
    "storage",
    "supabase_functions",
    "supabase_migrations",
    "vault",
)
