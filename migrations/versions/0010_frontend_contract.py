"""The frontend contract: error codes for every failure, named constraints mapped to codes, typed credit results"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0010"
down_revision = "0009"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0010_frontend_contract.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
