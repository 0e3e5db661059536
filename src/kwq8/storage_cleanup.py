"""The storage cleanup job (`kwq8 jobs storage-cleanup`): deletes the Storage files of deleted
projects through the Storage API, which removes the file bytes and their storage.objects rows
together. Deleting those rows in SQL would orphan the files, and Supabase refuses it
(storage.protect_delete).

Which objects go is decided in SQL (functions/private/storage_cleanup.sql); this loop sends one
`DELETE /storage/v1/object/{bucket}` with `{"prefixes": [names]}` (at most 1,000, the API's limit)
per project and batch, with the service_role key, and reports each answer back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from kwq8.db import connect


@dataclass
class CleanupReport:
    requests: int = 0
    deleted: int = 0
    errors: int = 0
    done: int = 0

    def as_dict(self) -> dict[str, int]:
        return self.__dict__.copy()


def _call(conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...]) -> Any:
    with conn.transaction():
        conn.execute("set local role service_role")
        row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


def run(
    db_url: str,
    storage_url: str,
    service_key: str,
    *,
    max_projects: int = 10,
    max_rounds: int = 100,
    client: httpx.Client | None = None,
) -> CleanupReport:
    """Run until no cleanup is pending, a round makes no progress, or max_rounds is reached."""
    report = CleanupReport()
    http = client or httpx.Client(timeout=30.0)
    headers = {"Authorization": f"Bearer {service_key}", "apikey": service_key}
    try:
        with connect(db_url, autocommit=True, application_name="kwq8 storage cleanup") as conn:
            for _ in range(max_rounds):
                batch = _call(
                    conn,
                    "select coalesce(jsonb_agg(to_jsonb(b)), '[]'::jsonb) from public.storage_cleanup_batch(%s) as b",
                    (max_projects,),
                )
                if not batch:
                    break
                progress = False
                for item in batch:
                    error = None
                    names = item["names"]
                    try:
                        response = http.request(
                            "DELETE",
                            f"{storage_url.rstrip('/')}/object/{item['bucket_id']}",
                            content=json.dumps({"prefixes": names}),
                            headers={**headers, "Content-Type": "application/json"},
                        )
                        report.requests += 1
                        if response.status_code == 200:
                            report.deleted += len(response.json())
                            progress = progress or bool(response.json())
                        else:
                            error = f"Storage API answered HTTP {response.status_code}"
                    except (httpx.HTTPError, ValueError) as exc:
                        error = f"Storage API call failed: {type(exc).__name__}"
                    if error:
                        report.errors += 1
                    result = _call(
                        conn, "select to_jsonb(public.finish_storage_cleanup(%s, %s))", (item["project_id"], error)
                    )
                    report.done += int(bool(result and result["done"]))
                if not progress:
                    break
    finally:
        if client is None:
            http.close()
    return report
