"""Typed RPC results: named composite types instead of bare jsonb"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0017"
down_revision = "0016"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0017_typed_rpc_results.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
