"""Structured logs of the service carry no API key, secret, access token or card number."""

from __future__ import annotations

import io
import json
import logging
import time

from kwq8.postgrest import Identity
from kwq8.service.logs import configure_logging

from ..service_helpers import API_KEY, API_SECRET, JWT_SECRET, Service, token
from .test_service_webhooks import signed

pytest_plugins = ("tests.service_fixtures",)

CARD = "4111 1111 1111 1111"


def test_logs_contain_no_keys_secrets_tokens_or_cards(service: Service, customer: Identity) -> None:
    stream = io.StringIO()
    handler = configure_logging(stream, level="DEBUG")
    try:
        access_token = token(customer)
        expired = token(customer, expires_in=-60)
        service.http.post(
            service.origin + "/billing/checkout", json={"plan": "basic"}, headers={"Authorization": f"Bearer {expired}"}
        )
        # UPayments echoing our credentials back in an error message.
        service.fake.reject_next("charge", f"invalid key {API_KEY} / {API_SECRET}")
        service.http.post(
            service.origin + f"/billing/checkout?token={access_token}",
            json={"plan": "basic"},
            headers={"Authorization": f"Bearer {access_token}"},
        )
        response = service.checkout(customer, "basic", key="log-test")
        order_id = response.json()["order_id"]
        track_id = service.track_id(order_id)
        service.fake.set_outcome(track_id, "CAPTURED")
        delivery = service.webhook(track_id)
        payload = {**json.loads(delivery.body), "card_number": CARD, "api_key": API_KEY, "token": access_token}
        body = json.dumps(payload).encode()
        assert service.deliver(signed(body)).json()["outcome"] == "applied"
        service.deliver(signed(body, timestamp=int(time.time()) - 3600))  # logged as a rejected signature
        logging.getLogger("kwq8.service").info(
            "debug dump", extra={"headers": {"authorization": f"Bearer {access_token}"}, "upayments_api_key": API_KEY}
        )
    finally:
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    messages = {line["msg"] for line in lines}
    assert {
        "request",
        "checkout created",
        "upayments charge failed",
        "access token rejected",
        "upayments notification processed",
        "webhook rejected",
    } <= messages
    for secret in (API_KEY, API_SECRET, JWT_SECRET, access_token, expired, CARD, CARD.replace(" ", "")):
        assert secret not in text
    assert "eyJ" not in text
    stored = service.db.scalar("select payload::text from payments.provider_events where track_id = %s", (track_id,))
    assert CARD.replace(" ", "") not in stored and CARD not in stored and API_KEY not in stored
    last_error = service.db.scalar(
        "select last_error from public.payments where user_id = %s and last_error is not null", (customer.user_id,)
    )
    assert last_error and API_KEY not in last_error and API_SECRET not in last_error
