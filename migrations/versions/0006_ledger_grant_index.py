"""Drop the ledger index on grant_id, unused since 0005 replaced its foreign key"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0006"
down_revision = "0005"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0006_ledger_grant_index.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
