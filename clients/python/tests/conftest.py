"""Fixtures: the live sidecar(s) the Swift suite starts (FLOODGATE_URL, and FLOODGATE_URL_B for a second sidecar on
the same Redis), and a local fake Slack that answers what each test scripts."""

import json
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from floodgate import Floodgate, GuardPolicy


@pytest.fixture(scope="session")
def sidecar_url():
    url = os.environ.get("FLOODGATE_URL")
    if not url:
        pytest.fail("FLOODGATE_URL is not set: run these tests from the Swift suite (./scripts/test), or start "
                    "`floodgate serve` and set FLOODGATE_URL=http://127.0.0.1:8080")
    return url


@pytest.fixture
def gate(sidecar_url):
    client = Floodgate(sidecar_url)
    yield client
    client.close()


@pytest.fixture
def tenant():
    """A tenant no other test uses (back-offs and limits are per tenant)."""
    return "T" + uuid.uuid4().hex[:10]


class FakeSlack:
    """Answers POST /api/<method> with scripted (status, headers, body) replies, then 200 {"ok": true}."""

    def __init__(self):
        self.replies = []
        self.calls = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                fake.calls.append(self.path)
                status, headers, body = fake.replies.pop(0) if fake.replies else (200, {}, '{"ok": true}')
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, method, host="127.0.0.1"):
        return f"http://{host}:{self.port}/api/{method}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack():
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
def policy():
    """The fake Slack's host (127.0.0.1) guarded as slack; `localhost` stays unmapped."""
    return GuardPolicy(hosts={"127.0.0.1": "slack"})


def slack_headers(tenant):
    return {"X-Floodgate-Tenant": tenant, "Content-Type": "application/json"}


def body(text="hello"):
    return json.dumps({"channel": "C1", "text": text})
