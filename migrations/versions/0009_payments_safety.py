"""Payments money-safety: server key namespace, captures never lost, reconciliation, refunds"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0009"
down_revision = "0008"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0009_payments_safety.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
