"""A local fake of the Supabase Storage API's bulk delete, for the storage cleanup job's tests.

`DELETE /storage/v1/object/{bucket}` with `{"prefixes": [names]}` behind the service_role key
(`Authorization: Bearer` and `apikey`), as storage-api's deleteObjects route: at most 1,000
names, answers 200 with the deleted objects (`[{"name", "bucket_id", ...}]`), deleting their
rows as the Storage API does (its request scope sets storage.allow_delete_query). Tests can make
the next N calls fail with an HTTP status. Every call is recorded.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kwq8.payments.fake_upayments import LocalServer

MAX_PREFIXES = 1000


@dataclass
class FakeStorage:
    db_url: str
    service_key: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    _server: LocalServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"{self._server.origin}/storage/v1"

    async def _delete(self, request: Request) -> JSONResponse:
        bucket = request.path_params["bucket"]
        auth = request.headers.get("authorization", "")
        body = await request.body()
        with self._lock:
            self.calls.append({"bucket": bucket, "body": body, "authorization": auth})
            failure = self.fail_next.pop(0) if self.fail_next else None
        if auth != f"Bearer {self.service_key}" or request.headers.get("apikey") != self.service_key:
            return JSONResponse({"statusCode": "403", "error": "Unauthorized", "message": "invalid key"}, 403)
        if failure:
            return JSONResponse({"statusCode": str(failure), "error": "Error", "message": "injected"}, failure)
        try:
            prefixes = json.loads(body)["prefixes"]
            assert isinstance(prefixes, list) and 1 <= len(prefixes) <= MAX_PREFIXES
        except (ValueError, KeyError, AssertionError):
            return JSONResponse({"statusCode": "400", "error": "Bad Request", "message": "prefixes"}, 400)
        with psycopg.connect(self.db_url, autocommit=True) as conn, conn.transaction():
            conn.execute(
                "select set_config('role', 'service_role', true), "
                "set_config('storage.operation', 'storage.object.delete_many', true), "
                "set_config('storage.allow_delete_query', 'true', true)"
            )
            rows = conn.execute(
                "delete from storage.objects where bucket_id = %s and name = any(%s) returning name, bucket_id, id",
                (bucket, prefixes),
            ).fetchall()
        return JSONResponse([{"name": r[0], "bucket_id": r[1], "id": str(r[2])} for r in rows])

    def __enter__(self) -> FakeStorage:
        app = Starlette(routes=[Route("/storage/v1/object/{bucket}", self._delete, methods=["DELETE"])])
        self._server = LocalServer(app).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.stop()
