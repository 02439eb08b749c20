"""A local stand-in for the few Stripe API endpoints billing uses (we cannot reach Stripe):
customers, subscriptions (each opens its first invoice), invoices (listed per customer) and
billing meter events, over real HTTP on 127.0.0.1, with Stripe's idempotency-key replay and
meter-event identifier deduplication."""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


class StripeStandIn:
    def __init__(self) -> None:
        self.customers: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}
        self.invoices: list[dict] = []
        self.meter_events: dict[str, dict] = {}  # by identifier: the first one wins
        self.requests: list[tuple[str, dict]] = []
        self._replies: dict[str, dict] = {}  # by Idempotency-Key
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                status, body = standin.answer(self.path, form, self.headers.get("Idempotency-Key"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                status, body = standin.read(path, dict(parse_qsl(query)))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_invoice(self, customer: str, *, total: int, status: str) -> dict:
        number = len(self.invoices) + 1
        invoice = {
            "id": f"in_{number}",
            "object": "invoice",
            "number": f"ASSAY-{number:04d}",
            "customer": customer,
            "status": status,
            "total": total,
            "currency": "usd",
            "created": 1_780_000_000 + number,
            "hosted_invoice_url": f"{self.url}/invoice/in_{number}",
        }
        self.invoices.append(invoice)
        return invoice

    def read(self, path: str, query: dict) -> tuple[int, dict]:
        with self._lock:
            self.requests.append((path, query))
            if path != "/v1/invoices":
                return 404, {"error": {"type": "invalid_request_error", "message": path}}
            mine = [i for i in self.invoices if i["customer"] == query.get("customer")]
            mine = sorted(mine, key=lambda i: -i["created"])[: int(query.get("limit", 10))]
            return 200, {"object": "list", "url": "/v1/invoices", "has_more": False, "data": mine}

    def answer(self, path: str, form: dict, key: str | None) -> tuple[int, dict]:
        with self._lock:
            self.requests.append((path, form))
            if key and key in self._replies:
                return 200, self._replies[key]
            if path == "/v1/customers":
                obj = {"id": f"cus_{next(self._ids)}", "object": "customer", "name": form["name"]}
                self.customers[obj["id"]] = obj
            elif path == "/v1/subscriptions":
                obj = {
                    "id": f"sub_{next(self._ids)}",
                    "object": "subscription",
                    "customer": form["customer"],
                    "status": "active",
                }
                self.subscriptions[obj["id"]] = obj
                self.add_invoice(form["customer"], total=10_000, status="open")
            elif path == "/v1/billing/meter_events":
                obj = {
                    "object": "billing.meter_event",
                    "event_name": form["event_name"],
                    "identifier": form["identifier"],
                    "timestamp": int(form["timestamp"]),
                    "payload": {
                        "stripe_customer_id": form["payload[stripe_customer_id]"],
                        "value": form["payload[value]"],
                    },
                }
                self.meter_events.setdefault(obj["identifier"], obj)
            else:
                return 404, {"error": {"type": "invalid_request_error", "message": path}}
            if key:
                self._replies[key] = obj
            return 200, obj
