"""Payments: UPayments checkouts, subscriptions, provider events, rate limits and the payments job"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0004"
down_revision = "0003"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0004_payments.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
