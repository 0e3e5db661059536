"""A checkout's UPayments charge is created at most once: payments.charge_started_at, PAY_012"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0016"
down_revision = "0015"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0016_review_fixes.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
