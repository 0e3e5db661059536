"""UPayments client against the local fake UPayments server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from kwq8.payments.fake_upayments import FakeUPayments
from kwq8.payments.signature import SignatureError, verify_webhook
from kwq8.payments.upayments import (
    PRODUCTION_BASE_URL,
    SANDBOX_BASE_URL,
    ConfigError,
    UPaymentsClient,
    UPaymentsConfig,
    UPaymentsError,
)

API_KEY = "test-upayments-key-0123456789"
API_SECRET = "test-upayments-secret-abcdef"
URLS = {
    "return_url": "https://kwq8.com/pay/return",
    "cancel_url": "https://kwq8.com/pay/cancel",
    "notification_url": "https://api.kwq8.com/hooks/upayments",
}


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeUPayments]:
    with FakeUPayments(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeUPayments) -> FakeUPayments:
    fake_server.reset()
    return fake_server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(
    sleeps: list[float],
) -> Iterator[Callable[..., UPaymentsClient]]:
    clients: list[UPaymentsClient] = []

    def make(
        base_url: str,
        *,
        api_key: str = API_KEY,
        api_secret: str | None = None,
        timeout_s: float = 2.0,
        sleep: Callable[[float], None] | None = None,
    ) -> UPaymentsClient:
        config = UPaymentsConfig(api_key=api_key, base_url=base_url, api_secret=api_secret, timeout_s=timeout_s)
        client = UPaymentsClient(config, sleep=sleep or sleeps.append)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def _charge(client: UPaymentsClient, amount: Any = Decimal("23"), **kwargs: Any) -> Any:
    args: dict[str, Any] = {
        "order_id": "ord-1001",
        "amount": amount,
        "description": "اشتراك KWq8 - خطة الأعمال",
        "language": "ar",
        **URLS,
    }
    args.update(kwargs)
    return client.create_charge(**args)


# -- charges -----------------------------------------------------------------------------------


def test_knet_charge_sends_the_exact_documented_body(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]
) -> None:
    client = make_client(fake.base_url)
    result = _charge(client, payment_method="knet", reference="inv-77")

    assert len(fake.charges) == 1
    sent = fake.charges[0]
    expected = (
        b'{"order":{"id":"ord-1001","reference":"inv-77",'
        b'"description":"\\u0627\\u0634\\u062a\\u0631\\u0627\\u0643 KWq8 - '
        b'\\u062e\\u0637\\u0629 \\u0627\\u0644\\u0623\\u0639\\u0645\\u0627\\u0644",'
        b'"currency":"KWD","amount":23.000},"language":"ar",'
        b'"returnUrl":"https://kwq8.com/pay/return","cancelUrl":"https://kwq8.com/pay/cancel",'
        b'"notificationUrl":"https://api.kwq8.com/hooks/upayments",'
        b'"paymentGateway":{"src":"knet"},"reference":{"id":"inv-77"},'
        b'"tokens":{"customerUniqueToken":null}}'
    )
    assert sent.body == expected
    body = sent.json()
    assert body["order"]["description"] == "اشتراك KWq8 - خطة الأعمال"
    # A JSON number, exact, with three decimals: never a float, never a string.
    assert body["order"]["amount"] == Decimal("23.000")
    assert str(body["order"]["amount"]) == "23.000"

    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["content-type"] == "application/json"
    assert "x-signature" not in sent.headers and "x-timestamp" not in sent.headers

    assert result.track_id
    assert result.link == f"{fake.origin}/pay/{result.track_id}"
    assert result.raw["trackId"] == result.track_id


def test_card_charge_with_customer_and_fils(fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]) -> None:
    client = make_client(fake.base_url)
    customer = {
        "uniqueId": "u-42",
        "name": "Fatma",
        "email": "f@example.kw",
        "mobile": "+96550000000",
    }
    result = _charge(client, amount=Decimal("1.5"), payment_method="cc", customer=customer, language="en")

    body = fake.charges[0].json()
    assert b'"amount":1.500}' in fake.charges[0].body
    assert body["paymentGateway"] == {"src": "cc"}
    assert body["customer"] == customer
    assert body["language"] == "en"
    assert "reference" not in body and "reference" not in body["order"]
    assert fake.transaction(result.track_id)["total_price"] == Decimal("1.500")


def test_hosted_page_charge_has_no_payment_gateway(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]
) -> None:
    _charge(make_client(fake.base_url), amount=Decimal("0.250"))
    body = fake.charges[0].json()
    assert "paymentGateway" not in body
    assert body["order"]["amount"] == Decimal("0.250")


def test_signed_requests_are_accepted_by_a_verifying_server(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]
) -> None:
    fake.require_signatures(API_SECRET)
    client = make_client(fake.base_url, api_secret=API_SECRET)
    result = _charge(client, payment_method="knet")
    fake.set_outcome(result.track_id, "CAPTURED")
    status = client.get_payment_status(result.track_id)

    assert status.paid
    assert fake.signature_failures == []
    assert len(fake.requests) == 2
    for request in fake.requests:
        assert abs(int(request.headers["x-timestamp"]) - time.time()) < 60
        assert request.headers["x-signature"]
        assert request.headers["authorization"] == f"Bearer {API_KEY}"


def test_wrong_secret_is_refused_by_a_verifying_server(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]
) -> None:
    fake.require_signatures(API_SECRET)
    client = make_client(fake.base_url, api_secret="not-the-secret")
    with pytest.raises(UPaymentsError) as info:
        _charge(client)
    assert (info.value.kind, info.value.status_code) == ("http", 401)
    assert fake.signature_failures == ["signature mismatch"]

    unsigned = make_client(fake.base_url)
    with pytest.raises(UPaymentsError):
        _charge(unsigned)
    assert fake.signature_failures[-1] == "missing signature headers"


def test_wrong_api_key_is_an_http_error_without_the_key(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]
) -> None:
    client = make_client(fake.base_url, api_key="wrong-key-value-123")
    with pytest.raises(UPaymentsError) as info:
        _charge(client)
    assert (info.value.kind, info.value.status_code) == ("http", 401)
    assert "wrong-key-value-123" not in str(info.value)


def test_provider_rejection_keeps_its_message_but_never_our_key(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]
) -> None:
    fake.reject_next("charge", f"Merchant not active for key {API_KEY}")
    with pytest.raises(UPaymentsError) as info:
        _charge(make_client(fake.base_url))
    assert info.value.kind == "rejected"
    assert "Merchant not active" in info.value.message
    assert API_KEY not in str(info.value)
    assert "[redacted]" in info.value.message


# -- failures and retries ----------------------------------------------------------------------


def test_charge_timeout_is_not_retried(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient], sleeps: list[float]
) -> None:
    client = make_client(fake.base_url, timeout_s=0.3)
    fake.timeout_next("charge", delay_s=2.0)
    started = time.monotonic()
    with pytest.raises(UPaymentsError) as info:
        _charge(client)
    assert info.value.kind == "timeout"
    assert info.value.retryable
    assert time.monotonic() - started < 1.5
    assert len(fake.charges) == 1  # the server did receive it: a retry could charge twice
    assert sleeps == []


def test_charge_server_error_is_not_retried(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient], sleeps: list[float]
) -> None:
    fake.fail_next("charge", status_code=500)
    with pytest.raises(UPaymentsError) as info:
        _charge(make_client(fake.base_url))
    assert (info.value.kind, info.value.status_code) == ("http", 500)
    assert len(fake.charges) == 1
    assert sleeps == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_charge_retries_a_connect_error_and_charges_once(
    make_client: Callable[..., UPaymentsClient],
) -> None:
    port = _free_port()
    servers: list[FakeUPayments] = []

    def bring_server_up(delay: float) -> None:
        # Nothing listened on the first attempt; the retry finds the server.
        servers.append(FakeUPayments(api_key=API_KEY, port=port).__enter__())

    client = make_client(f"http://127.0.0.1:{port}/api/v1/", sleep=bring_server_up)
    try:
        result = _charge(client)
        assert result.track_id
        assert len(servers) == 1
        assert len(servers[0].charges) == 1
    finally:
        for server in servers:
            server.__exit__(None, None, None)


def test_charge_gives_up_after_repeated_connect_errors(
    make_client: Callable[..., UPaymentsClient], sleeps: list[float]
) -> None:
    client = make_client(f"http://127.0.0.1:{_free_port()}/api/v1/")
    with pytest.raises(UPaymentsError) as info:
        _charge(client)
    assert info.value.kind == "network"
    assert sleeps == [0.5, 1.0]  # three attempts, exponential backoff


def test_status_retries_503_then_succeeds(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient], sleeps: list[float]
) -> None:
    client = make_client(fake.base_url)
    track_id = _charge(client).track_id
    fake.set_outcome(track_id, "CAPTURED")
    fake.fail_next("status", status_code=503, count=2)

    status = client.get_payment_status(track_id)
    assert status.paid
    assert len(fake.status_calls) == 3
    assert sleeps == [0.5, 1.0]


def test_status_stops_after_three_attempts(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient], sleeps: list[float]
) -> None:
    client = make_client(fake.base_url)
    track_id = _charge(client).track_id
    fake.fail_next("status", status_code=429, count=5)
    with pytest.raises(UPaymentsError) as info:
        client.get_payment_status(track_id)
    assert (info.value.kind, info.value.status_code) == ("http", 429)
    assert len(fake.status_calls) == 3


def test_status_retries_a_timeout(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient], sleeps: list[float]
) -> None:
    client = make_client(fake.base_url, timeout_s=0.3)
    track_id = _charge(client).track_id
    fake.timeout_next("status", delay_s=2.0)
    status = client.get_payment_status(track_id)
    assert status.result == "PENDING" and not status.paid
    assert len(fake.status_calls) == 2
    assert sleeps == [0.5]


def test_status_client_errors_are_not_retried(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient], sleeps: list[float]
) -> None:
    client = make_client(fake.base_url)
    with pytest.raises(UPaymentsError) as info:
        client.get_payment_status("unknown+id%")
    assert (info.value.kind, info.value.status_code) == ("http", 404)
    assert not info.value.retryable
    assert len(fake.status_calls) == 1
    # The id is percent-encoded into a single path segment.
    assert fake.status_calls[0].path == "/api/v1/get-payment-status/unknown%2Bid%25"
    assert sleeps == []


@pytest.mark.parametrize(("route", "status_code"), [("charge", 200), ("status", 403)])
def test_html_answer_is_invalid_response_with_whitelist_hint(
    fake: FakeUPayments,
    make_client: Callable[..., UPaymentsClient],
    route: str,
    status_code: int,
) -> None:
    client = make_client(fake.base_url)
    track_id = _charge(client).track_id if route == "status" else None
    fake.html_next(route, status_code=status_code)  # type: ignore[arg-type]
    with pytest.raises(UPaymentsError) as info:
        if track_id:
            client.get_payment_status(track_id)
        else:
            _charge(client)
    assert info.value.kind == "invalid_response"
    assert info.value.status_code == status_code
    assert "whitelist" in info.value.message


# -- payment status ----------------------------------------------------------------------------


def test_captured_status_is_paid_and_bound_to_the_order(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]
) -> None:
    client = make_client(fake.base_url)
    charge = _charge(client, amount=Decimal("23.5"), reference="inv-9")
    fake.set_outcome(charge.track_id, "CAPTURED")

    status = client.get_payment_status(charge.track_id)
    assert status.paid and status.result == "CAPTURED"
    assert status.track_id == charge.track_id
    assert status.order_id == "ord-1001"
    assert status.reference == "inv-9"
    assert status.currency == "KWD"
    assert status.payment_id and status.payment_id.isdigit()
    assert status.refund_order_id
    assert isinstance(status.amount, Decimal) and status.amount == Decimal("23.500")
    assert isinstance(status.raw["transaction"]["total_price"], Decimal)

    assert status.confirms("ord-1001", Decimal("23.500"))
    assert not status.confirms("ord-1001", Decimal("23.501"))
    assert not status.confirms("ord-1002", Decimal("23.500"))
    assert not status.confirms("ord-1001", Decimal("23.500"), currency="USD")


def test_amount_given_as_a_string_is_parsed_exactly(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]
) -> None:
    fake.amount_format = "string"
    client = make_client(fake.base_url)
    track_id = _charge(client, amount=Decimal("0.100")).track_id
    assert fake.transaction(track_id)["total_price"] == "0.100"
    status = client.get_payment_status(track_id)
    assert status.amount == Decimal("0.100")


@pytest.mark.parametrize("result", ["NOT CAPTURED", "CANCELED", "CANCELLED", "FAILURE", "ERROR"])
def test_declined_and_cancelled_statuses_are_not_paid(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient], result: str
) -> None:
    client = make_client(fake.base_url)
    track_id = _charge(client, payment_method="knet").track_id
    fake.set_outcome(track_id, result)
    status = client.get_payment_status(track_id)
    assert status.result == result
    assert not status.paid
    assert not status.confirms("ord-1001", Decimal("23"))


def test_result_comparison_ignores_case(fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]) -> None:
    client = make_client(fake.base_url)
    track_id = _charge(client).track_id
    fake.set_outcome(track_id, "captured")
    assert client.get_payment_status(track_id).paid


def test_status_for_another_track_id_is_refused(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]
) -> None:
    client = make_client(fake.base_url)
    track_id = _charge(client).track_id
    fake.set_outcome(track_id, "CAPTURED", track_id="someone-elses")
    with pytest.raises(UPaymentsError) as info:
        client.get_payment_status(track_id)
    assert info.value.kind == "invalid_response"


@pytest.mark.parametrize("track_id", ["", "a/b", "..", ".", "a b", "tab\there", "x" * 256])
def test_bad_track_ids_are_rejected_before_any_request(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient], track_id: str
) -> None:
    with pytest.raises(ValueError):
        make_client(fake.base_url).get_payment_status(track_id)
    assert fake.requests == []


# -- webhooks ----------------------------------------------------------------------------------


def test_signed_webhook_from_the_fake_verifies_and_matches_the_order(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]
) -> None:
    client = make_client(fake.base_url)
    charge = _charge(client, payment_method="knet", reference="inv-5")
    fake.set_outcome(charge.track_id, "CAPTURED")
    delivery = fake.build_webhook(URLS["notification_url"], API_SECRET, charge.track_id)

    verify_webhook(API_SECRET, delivery.headers, "POST", delivery.url, delivery.body, now=time.time())
    fields = json.loads(delivery.body)
    assert set(fields) == {
        "result",
        "payment_id",
        "track_id",
        "requested_order_id",
        "ref",
        "tran_id",
        "post_date",
        "auth",
        "payment_type",
    }
    assert fields["result"] == "CAPTURED"
    assert fields["track_id"] == charge.track_id
    assert fields["requested_order_id"] == "ord-1001"
    assert fields["payment_type"] == "knet"
    # The webhook is a hint: the status call is what proves payment.
    assert client.get_payment_status(fields["track_id"]).confirms("ord-1001", Decimal("23"))

    with pytest.raises(SignatureError):
        verify_webhook(
            API_SECRET,
            delivery.headers,
            "POST",
            delivery.url,
            delivery.body.replace(b"CAPTURED", b"CAPTUREX"),
            now=time.time(),
        )


# -- validation before sending -----------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [
        Decimal("-1"),
        Decimal("0"),
        Decimal("0.000"),
        Decimal("1.2345"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("1E+12"),
        23.0,
        23,
        "23.000",
        True,
    ],
    ids=repr,
)
def test_bad_amounts_are_rejected_before_any_request(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient], amount: Any
) -> None:
    with pytest.raises(ValueError):
        _charge(make_client(fake.base_url), amount=amount)
    assert fake.requests == []


def test_trailing_zeros_beyond_fils_are_accepted(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient]
) -> None:
    _charge(make_client(fake.base_url), amount=Decimal("1.2340"))
    assert b'"amount":1.234}' in fake.charges[0].body


@pytest.mark.parametrize(
    "override",
    [
        {"order_id": "x" * 41},
        {"order_id": ""},
        {"description": ""},
        {"description": "d" * 501},
        {"language": "fr"},
        {"payment_method": "apple-pay"},
        {"return_url": "javascript:alert(1)"},
        {"notification_url": "/relative/hook"},
        {"customer": {"name": "A", "password": "x"}},
        {"reference": "r" * 256},
    ],
    ids=lambda o: next(iter(o)),
)
def test_invalid_inputs_are_rejected_before_any_request(
    fake: FakeUPayments, make_client: Callable[..., UPaymentsClient], override: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        _charge(make_client(fake.base_url), **override)
    assert fake.requests == []


# -- configuration -----------------------------------------------------------------------------


def test_config_from_env_defaults_to_sandbox() -> None:
    config = UPaymentsConfig.from_env({"UPAYMENTS_API_KEY": "k-123"})
    assert config.base_url == SANDBOX_BASE_URL
    assert config.api_secret is None
    assert config.timeout_s == 10.0


def test_config_from_env_production_secret_and_override() -> None:
    env = {"UPAYMENTS_API_KEY": "k", "UPAYMENTS_ENV": "Production", "UPAYMENTS_API_SECRET": "s"}
    config = UPaymentsConfig.from_env(env)
    assert config.base_url == PRODUCTION_BASE_URL
    assert config.api_secret == "s"
    override = {**env, "UPAYMENTS_BASE_URL": "https://dev-apiv2api.upayments.com/api/v1"}
    assert UPaymentsConfig.from_env(override).base_url == "https://dev-apiv2api.upayments.com/api/v1/"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "UPAYMENTS_API_KEY"),
        ({"UPAYMENTS_API_KEY": "  "}, "UPAYMENTS_API_KEY"),
        ({"UPAYMENTS_API_KEY": "sk-live-999", "UPAYMENTS_ENV": "staging"}, "UPAYMENTS_ENV"),
        (
            {
                "UPAYMENTS_API_KEY": "sk-live-999",
                "UPAYMENTS_BASE_URL": "http://evil.example/api/v1/",
            },
            "UPAYMENTS_BASE_URL",
        ),
        (
            {"UPAYMENTS_API_KEY": "sk-live-999", "UPAYMENTS_BASE_URL": "https://x.example/v2/"},
            "UPAYMENTS_BASE_URL",
        ),
    ],
)
def test_config_errors_name_the_variable_not_the_value(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as info:
        UPaymentsConfig.from_env(env)
    assert named in str(info.value)
    assert "sk-live-999" not in str(info.value)


def test_config_repr_hides_credentials() -> None:
    config = UPaymentsConfig(api_key="sk-live-abcdef", base_url=SANDBOX_BASE_URL, api_secret="hmac-secret-xyz")
    for text in (repr(config), str(config), f"{config}"):
        assert "sk-live-abcdef" not in text
        assert "hmac-secret-xyz" not in text
        assert "api_key=[redacted]" in text
