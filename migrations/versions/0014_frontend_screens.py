"""Frontend screens: sign-up grant, usage and Arabic ledger text, realtime, published images, plan changes"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0014"
down_revision = "0013"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0014_frontend_screens.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
