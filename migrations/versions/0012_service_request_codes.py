"""Error codes of the billing service: strict request bodies, header cap, CORS origins"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0012"
down_revision = "0011"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0012_service_request_codes.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
