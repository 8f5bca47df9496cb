"""A small local HTTP server that answers the Stripe API calls the portal makes, so the real `stripe`
client (request building, auth header, API version header, error handling) runs offline; and
webhook payloads signed the way Stripe signs them."""
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.conf import settings

FAKE_SECRET_KEY = "sk_test_fake_stripe_key"


@dataclass
class Recorded:
    method: str
    path: str
    params: dict
    headers: dict


@dataclass
class FakeStripe:
    requests: list[Recorded] = field(default_factory=list)
    customers: dict = field(default_factory=dict)
    subscriptions: dict = field(default_factory=dict)
    invoices: dict = field(default_factory=dict)
    meter_events: dict = field(default_factory=dict)
    idempotent_replies: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)

    def __post_init__(self):
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address
        return f"http://{host}:{port}"

    def start(self) -> "FakeStripe":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, method: str, path_prefix: str, status: int = 500, times: int = 1) -> None:
        """The next `times` matching calls answer with a Stripe API error."""
        self.failures.extend([(method, path_prefix, status)] * times)

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # The routes

    def answer(self, method: str, path: str, params: dict, headers: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append(Recorded(method, path, params, headers))
            if headers.get("authorization") != f"Bearer {FAKE_SECRET_KEY}":
                return 401, _error("Invalid API Key provided", "invalid_request_error")
            for failure in self.failures:
                if failure[0] == method and path.startswith(failure[1]):
                    self.failures.remove(failure)
                    return failure[2], _error("Something went wrong on Stripe's end", "api_error")
            key = headers.get("idempotency-key")
            if method == "POST" and key in self.idempotent_replies:
                return 200, self.idempotent_replies[key]
            status, body = self.route(method, path, params)
            if method == "POST" and key and status == 200:
                self.idempotent_replies[key] = body
            return status, body

    def route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        parts = path.strip("/").split("/")[1:]  # without "v1"
        if method == "POST" and parts == ["customers"]:
            customer = {"id": f"cus_{uuid.uuid4().hex[:14]}", "object": "customer", "name": params.get("name"),
                        "metadata": _nested(params, "metadata")}
            self.customers[customer["id"]] = customer
            return 200, customer
        if method == "POST" and parts == ["checkout", "sessions"]:
            session_id = f"cs_test_{uuid.uuid4().hex[:14]}"
            return 200, {"id": session_id, "object": "checkout.session", "mode": params.get("mode"),
                         "customer": params.get("customer"), "url": f"https://checkout.stripe.test/pay/{session_id}",
                         "metadata": _nested(params, "metadata")}
        if method == "POST" and parts == ["billing_portal", "sessions"]:
            session_id = f"bps_{uuid.uuid4().hex[:14]}"
            return 200, {"id": session_id, "object": "billing_portal.session", "customer": params.get("customer"),
                         "url": f"https://billing.stripe.test/session/{session_id}"}
        if parts[:1] == ["subscriptions"] and len(parts) == 2:
            subscription = self.subscriptions.get(parts[1])
            if subscription is None:
                return 404, _error(f"No such subscription: '{parts[1]}'", "invalid_request_error")
            if method == "DELETE":
                subscription["status"] = "canceled"
            return 200, subscription
        if method == "GET" and parts == ["invoices"]:
            data = self.invoices.get(params.get("customer"), [])[: int(params.get("limit", 10))]
            return 200, {"object": "list", "data": data, "has_more": False, "url": "/v1/invoices"}
        if method == "POST" and parts == ["billing", "meter_events"]:
            event = {"object": "billing.meter_event", "event_name": params["event_name"],
                     "identifier": params["identifier"], "timestamp": int(params["timestamp"]),
                     "payload": _nested(params, "payload"), "created": int(time.time()), "livemode": False}
            self.meter_events.setdefault(params["identifier"], event)  # Stripe keeps one per identifier
            return 200, event
        return 404, _error(f"Unrecognized request URL ({method}: {path})", "invalid_request_error")


def _error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind}}


def _nested(params: dict, name: str) -> dict:
    prefix = f"{name}["
    return {key[len(prefix):-1]: value for key, value in params.items() if key.startswith(prefix) and "][" not in key}


def _handler_for(fake: FakeStripe):
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            params.update(parse_qsl(body, keep_blank_values=True))
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, reply = fake.answer(self.command, url.path, params, headers)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{uuid.uuid4().hex[:12]}")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args) -> None:
            pass

    return Handler


# Stripe objects and signed webhook deliveries


def subscription(*, customer: str, status: str, price: str, created: int, sub_id: str | None = None,
                 metadata: dict | None = None, period_start: int | None = None, period_end: int | None = None) -> dict:
    start = period_start or created
    return {
        "id": sub_id or f"sub_{uuid.uuid4().hex[:14]}", "object": "subscription", "customer": customer,
        "status": status, "created": created, "metadata": metadata or {},
        "items": {"object": "list", "data": [{
            "id": f"si_{uuid.uuid4().hex[:10]}", "object": "subscription_item", "price": {"id": price},
            "current_period_start": start, "current_period_end": period_end or start + 30 * 86400,
        }]},
    }


def event(kind: str, obj: dict, *, created: int | None = None, event_id: str | None = None) -> dict:
    return {"id": event_id or f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": kind,
            "api_version": settings.STRIPE_API_VERSION, "created": created or int(time.time()), "livemode": False,
            "data": {"object": obj}}


def signature_header(payload: str, *, secret: str | None = None, timestamp: int | None = None) -> str:
    """Exactly what Stripe sends: t=<unix time>,v1=<HMAC-SHA256 of "t.payload" with the endpoint secret>."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    secret = settings.STRIPE_WEBHOOK_SECRET if secret is None else secret
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def deliver(client, stripe_event: dict, **signing):
    payload = json.dumps(stripe_event)
    return client.post("/billing/stripe/webhook/", payload, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=signature_header(payload, **signing))


@pytest.fixture
def stripe_server(settings):
    """The fake Stripe, with the portal's client pointed at it."""
    fake = FakeStripe().start()
    settings.STRIPE_API_BASE = fake.url
    settings.STRIPE_SECRET_KEY = FAKE_SECRET_KEY
    yield fake
    fake.stop()
