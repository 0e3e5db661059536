"""Spend fast path: credit upkeep scheduled on users, single-grant spends named on the ledger entry"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0005"
down_revision = "0004"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0005_spend_fast_path.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
