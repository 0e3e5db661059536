"""Tenancy: projects, client data (bookings, contact messages), deployments, domains, project assets"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0003"
down_revision = "0002"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0003_tenancy.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
