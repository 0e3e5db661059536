"""A local fake of Vercel's domain endpoints for tests (payments_domains.md §4).

``POST /v10/projects/{id}/domains`` adds a domain: 409 when another project uses it, 403 when
another team owns it, 400 when it is already on this project; a domain marked as needing
ownership proof answers ``verified: false`` with a TXT challenge at ``_vercel.<domain>``, and
``POST .../verify`` passes only once that TXT record resolves. ``GET /v6/domains/{d}/config`` is
misconfigured until the apex resolves to 76.76.21.21. DNS comes from ``resolver`` (a function
name -> [(type, value)]; tests join it to the fake Namecheap's zones and ``external_dns``).
Faults: 429 with Retry-After, 500, for the next calls of a route. ``calls`` records every request.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kwq8.payments.fake_upayments import LocalServer

CNAME = "cname.vercel-dns-0.com."


@dataclass
class VercelCall:
    route: str
    method: str
    path: str
    at: float
    status: int = 0


class FakeVercel:
    def __init__(self, token: str = "vercel-token-abcdef0123456789", project_id: str = "prj_kwq8sites"):
        self.token = token
        self.project_id = project_id
        self._lock = threading.Lock()
        self.resolver: Callable[[str], list[tuple[str, str]]] = lambda name: []
        app = Starlette(
            routes=[
                Route("/v10/projects/{project}/domains", self._add, methods=["POST"]),
                Route("/v9/projects/{project}/domains/{domain}/verify", self._verify, methods=["POST"]),
                Route("/v9/projects/{project}/domains/{domain}", self._get, methods=["GET"]),
                Route("/v9/projects/{project}/domains/{domain}", self._delete, methods=["DELETE"]),
                Route("/v6/domains/{domain}/config", self._config, methods=["GET"]),
            ]
        )
        self.server = LocalServer(app)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.calls: list[VercelCall] = []
            self.domains: dict[str, dict[str, Any]] = {}
            self.other_project: set[str] = set()
            self.other_team: set[str] = set()
            self.needs_txt: set[str] = set()
            self.external_dns: dict[str, list[tuple[str, str]]] = {}
            self.faults: dict[str, deque[tuple[int, int]]] = {}

    def fail_next(self, route: str, status: int, retry_after: int = 1, times: int = 1) -> None:
        with self._lock:
            self.faults.setdefault(route, deque()).extend([(status, retry_after)] * times)

    def lookup(self, name: str) -> list[tuple[str, str]]:
        return self.external_dns.get(name, []) + self.resolver(name)

    @property
    def base_url(self) -> str:
        return self.server.origin

    def __enter__(self) -> FakeVercel:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    # ------------------------------------------------------------------ wire

    def _enter(self, request: Request, route: str) -> tuple[VercelCall, Response | None]:
        call = VercelCall(route=route, method=request.method, path=request.url.path, at=time.time())
        with self._lock:
            self.calls.append(call)
            queue = self.faults.get(route)
            fault = queue.popleft() if queue else None
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return call, self._error(call, 403, "forbidden", "Not authorized")
        if request.path_params.get("project", self.project_id) != self.project_id:
            return call, self._error(call, 404, "not_found", "Project not found")
        if fault:
            status, retry = fault
            headers = {"Retry-After": str(retry)} if status == 429 else {}
            return call, self._error(call, status, "rate_limited" if status == 429 else "internal", "fault", headers)
        return call, None

    @staticmethod
    def _error(
        call: VercelCall, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        call.status = status
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)

    def _view(self, name: str) -> dict[str, Any]:
        entry = self.domains[name]
        view: dict[str, Any] = {
            "name": name,
            "apexName": name,
            "projectId": self.project_id,
            "verified": entry["verified"],
            "createdAt": entry["created"],
        }
        if not entry["verified"]:
            view["verification"] = [
                {
                    "type": "TXT",
                    "domain": f"_vercel.{name}",
                    "value": entry["challenge"],
                    "reason": "pending_domain_verification",
                }
            ]
        return view

    async def _add(self, request: Request) -> Response:
        call, refused = self._enter(request, "add")
        if refused:
            return refused
        body = await request.json()
        name = str(body.get("name", "")).lower()
        if name in self.other_project:
            return self._error(call, 409, "domain_already_in_use", "Domain is already in use by another project")
        if name in self.other_team:
            return self._error(call, 403, "forbidden", "Domain belongs to another team")
        if name in self.domains:
            return self._error(call, 400, "domain_already_exists", "Domain already exists on this project")
        self.domains[name] = {
            "verified": name not in self.needs_txt,
            "challenge": f"vc-domain-verify={name},{abs(hash(name)) % 10**12:012d}",
            "created": int(time.time() * 1000),
        }
        call.status = 200
        return JSONResponse(self._view(name))

    async def _get(self, request: Request) -> Response:
        call, refused = self._enter(request, "get")
        if refused:
            return refused
        name = request.path_params["domain"].lower()
        if name not in self.domains:
            return self._error(call, 404, "not_found", "Domain not found")
        call.status = 200
        return JSONResponse(self._view(name))

    async def _verify(self, request: Request) -> Response:
        call, refused = self._enter(request, "verify")
        if refused:
            return refused
        name = request.path_params["domain"].lower()
        entry = self.domains.get(name)
        if entry is None:
            return self._error(call, 404, "not_found", "Domain not found")
        if not entry["verified"]:
            if ("TXT", entry["challenge"]) not in self.lookup(f"_vercel.{name}"):
                return self._error(call, 400, "missing_txt_record", "The TXT record was not found")
            entry["verified"] = True
        call.status = 200
        return JSONResponse(self._view(name))

    async def _delete(self, request: Request) -> Response:
        call, refused = self._enter(request, "delete")
        if refused:
            return refused
        name = request.path_params["domain"].lower()
        if self.domains.pop(name, None) is None:
            return self._error(call, 404, "not_found", "Domain not found")
        call.status = 200
        return JSONResponse({})

    async def _config(self, request: Request) -> Response:
        call, refused = self._enter(request, "config")
        if refused:
            return refused
        name = request.path_params["domain"].lower()
        records = self.lookup(name)
        by_a = ("A", "76.76.21.21") in records
        by_cname = any(t == "CNAME" and v.rstrip(".").endswith("vercel-dns-0.com") for t, v in records)
        call.status = 200
        return JSONResponse(
            {
                "configuredBy": "A" if by_a else ("CNAME" if by_cname else None),
                "acceptedChallenges": ["dns-01", "http-01"],
                "misconfigured": not (by_a or by_cname),
                "recommendedIPv4": [{"rank": 1, "value": ["76.76.21.21"]}],
                "recommendedCNAME": [{"rank": 1, "value": CNAME}],
            }
        )
