"""Domains: search, quotes, paid registration at Namecheap (never twice), connection to Vercel"""

from kwq8.migrations import run_sql, run_sql_down

revision = "0013"
down_revision = "0012"
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["0013_domains.sql"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
