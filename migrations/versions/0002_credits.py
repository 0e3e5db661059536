"""Credits: plans, action costs, users, grants, holds and the append-only ledger"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0002"
down_revision = "0001"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0002_credits.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
