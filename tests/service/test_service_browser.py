"""The billing service from a real browser: headless Chromium (Debian's package, installed by
scripts/install) opens a page on one origin that calls checkout and payment status on the
service at another, with a user's token, and reports what it saw to the page's own server."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kwq8.payments.fake_upayments import LocalServer
from kwq8.postgrest import Identity

from ..service_helpers import Service, start_service, stop_service, token

pytest_plugins = ("tests.service_fixtures",)

PAGE = """<!doctype html><meta charset="utf-8"><title>KWq8 checkout</title>
<script>
(async () => {
  const service = %(service)s, auth = {"Authorization": "Bearer " + %(token)s};
  const seen = {};
  try {
    const checkout = await fetch(service + "/billing/checkout", {
      method: "POST",
      headers: {...auth, "Content-Type": "application/json", "Idempotency-Key": "browser-" + Date.now()},
      body: JSON.stringify({plan: "basic", payment_method: "knet"}),
    });
    seen.checkout_status = checkout.status;
    seen.request_id = checkout.headers.get("X-Request-Id");
    const order = await checkout.json();
    seen.order_id = order.order_id;
    seen.payment_url = order.payment_url;
    const status = await fetch(service + "/billing/payments/" + order.order_id, {headers: auth});
    seen.status_status = status.status;
    seen.status = (await status.json()).status;
  } catch (error) {
    seen.error = String(error);
  }
  await fetch("/report", {method: "POST", body: JSON.stringify(seen)});
})();
</script>"""


class PageSite:
    """A page on its own origin (calling ``service_origin`` with ``access_token``) and the report
    its script sends back."""

    def __init__(self, access_token: str) -> None:
        self.service_origin = ""
        self.report: dict[str, Any] | None = None
        self.reported = threading.Event()

        async def page(request: Request) -> Response:
            return HTMLResponse(PAGE % {"service": json.dumps(self.service_origin), "token": json.dumps(access_token)})

        async def report(request: Request) -> Response:
            self.report = json.loads(await request.body())
            self.reported.set()
            return Response(status_code=204)

        async def favicon(request: Request) -> Response:
            return Response(status_code=204)

        app = Starlette(
            routes=[Route("/", page), Route("/report", report, methods=["POST"]), Route("/favicon.ico", favicon)]
        )
        self.server = LocalServer(app).start()

    @property
    def origin(self) -> str:
        return self.server.origin


def browse(site: PageSite, timeout_s: float = 60) -> dict[str, Any]:
    """Open the site's page in headless Chromium until it reports; the report."""
    binary = shutil.which("chromium")
    assert binary, "chromium is missing: scripts/install installs Debian's package"
    with tempfile.TemporaryDirectory() as profile:
        browser = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",  # the tests run as root
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                f"--user-data-dir={profile}",
                site.origin + "/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert site.reported.wait(timeout_s), "the page never reported"
        finally:
            browser.terminate()
            try:
                browser.wait(10)
            except subprocess.TimeoutExpired:
                browser.kill()
                browser.wait(10)
    assert site.report is not None
    return site.report


@pytest.fixture
def sites(service: Service, customer: Identity) -> Iterator[tuple[Service, PageSite, PageSite]]:
    """The service allowing the first page's origin (another port: another origin), not the second's."""
    allowed, stranger = PageSite(token(customer)), PageSite(token(customer))
    browser_service = start_service(
        service.db, service.fake, allowed_origins=(allowed.origin,), rate_ip_per_window=100_000, status_fresh_s=0
    )
    allowed.service_origin = stranger.service_origin = browser_service.origin
    try:
        yield browser_service, allowed, stranger
    finally:
        allowed.server.stop()
        stranger.server.stop()
        stop_service(browser_service)


def test_a_page_on_an_allowed_origin_completes_a_checkout(
    sites: tuple[Service, PageSite, PageSite], customer: Identity
) -> None:
    service, allowed, _ = sites
    seen = browse(allowed)
    assert "error" not in seen, seen
    assert seen["checkout_status"] == 201 and seen["order_id"].startswith("kwq8_")
    assert seen["payment_url"].startswith(service.fake.origin)
    assert seen["request_id"]  # an exposed header the page may read
    assert (seen["status_status"], seen["status"]) == (200, "pending")
    owner = service.db.scalar("select user_id::text from public.payments where order_id = %s", (seen["order_id"],))
    assert owner == customer.user_id


def test_a_page_on_another_origin_is_refused_by_the_browser(
    sites: tuple[Service, PageSite, PageSite], customer: Identity
) -> None:
    service, _, stranger = sites
    seen = browse(stranger)
    assert seen.get("error", "").startswith("TypeError"), seen  # the preflight was refused
    assert "checkout_status" not in seen
    assert service.db.scalar("select count(*) from public.payments where user_id = %s", (customer.user_id,)) == 0
