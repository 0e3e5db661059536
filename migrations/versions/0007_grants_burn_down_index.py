"""Index grants in burn-down order, so a spend finds its grant without sorting"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0007"
down_revision = "0006"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0007_grants_burn_down_index.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
