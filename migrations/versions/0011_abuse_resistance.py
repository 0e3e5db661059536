"""Abuse resistance: the Data API limiter on by default, counters that survive rollback, anonymous write caps"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0011"
down_revision = "0010"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0011_abuse_resistance.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
