"""Alembic environment: the logic lives in kwq8.migrations so every project shares it."""

from alembic import context

from kwq8.migrations import run_alembic_env

run_alembic_env(context)
