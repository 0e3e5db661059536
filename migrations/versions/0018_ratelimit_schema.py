"""The rate limiter in its own schema, ratelimit"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0018"
down_revision = "0017"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0018_ratelimit_schema.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
