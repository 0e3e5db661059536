"""`kwq8 token`: a signed access token for the local stack, as Supabase Auth would issue it."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from kwq8.cli.common import DbUrl, out, resolve
from kwq8.db import connection
from kwq8.errors import Kwq8Error
from kwq8.keys import api_key, auth_user_token

# The seed's Basic-plan user, with its monthly credits (supabase/seed.sql): the default for a new
# operator's first calls, so the first spend succeeds.
DEMO_USER = "khaled@example.test"


app = typer.Typer()


class Role(StrEnum):
    authenticated = "authenticated"
    anon = "anon"
    service_role = "service_role"


@app.command("token")
def token(
    user: Annotated[
        str, typer.Option("--user", help="Email (or id) of the auth user the token is for (role authenticated).")
    ] = DEMO_USER,
    role: Annotated[Role, typer.Option("--role", help="anon and service_role print the project's API key.")] = (
        Role.authenticated
    ),
    expires_in: Annotated[int, typer.Option("--expires-in", min=60, max=7 * 86400, help="Seconds.")] = 3600,
    db_url: DbUrl = None,
) -> None:
    """Print a JWT signed with the project's JWT secret: `Authorization: Bearer $(kwq8 token)`."""
    project, target = resolve(db_url)
    secret = project.auth.jwt_secret
    if role is not Role.authenticated:
        out.print(api_key(secret, role.value), soft_wrap=True)
        return
    with connection(target.url) as conn:
        access_token = auth_user_token(conn, secret, user, expires_in=expires_in)
    if access_token is None:
        raise Kwq8Error(
            f"no auth user {user!r} in {target.describe()}",
            hint=f"the seed creates {DEMO_USER} (`kwq8 stack reset`), or insert one into auth.users",
        )
    out.print(access_token, soft_wrap=True)
