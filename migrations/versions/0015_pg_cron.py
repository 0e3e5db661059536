"""pg_cron created by the project, where the server runs it, with the payments job scheduled"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0015"
down_revision = "0014"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0015_pg_cron.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
