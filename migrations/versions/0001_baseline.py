"""Secure default privileges and the private schema"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0001"
down_revision = None
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0001_baseline.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
