"""How the incident's app guards a Slack call through the sidecar.

Run a sidecar (`swift run floodgate serve`), then `python3 examples/python/slack_example.py`. The Slack API is
simulated here (no network): every fifth call answers 429 with Retry-After: 2, as Slack does when a workspace sends
too fast; the sidecar then holds that workspace back on every instance of the fleet until the time has passed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from floodgate_client import Floodgate, Refused  # noqa: E402


class FakeSlack:
    """Stands in for https://slack.com/api/chat.postMessage."""

    def __init__(self):
        self.calls = 0

    def post_message(self, team, channel, text):
        self.calls += 1
        if self.calls % 5 == 0:
            return 429, {"Retry-After": "2"}, '{"ok": false, "error": "ratelimited"}'
        return 200, {"Content-Type": "application/json"}, '{"ok": true}'


def send(gate, slack, team, channel, text):
    """One guarded Slack call: 'sent', 'throttled' (the provider said wait) or 'refused: <why>' (never went out)."""
    try:
        with gate.guard("slack", team, "chat.postMessage") as call:
            status, headers, body = slack.post_message(team, channel, text)
            call.response(status, headers, body)
            return "sent" if status == 200 else "throttled"
    except Refused as refused:
        wait = refused.retry_after_seconds
        return f"refused: {refused.code}" + (f" (retry in {wait:.1f} s)" if wait is not None else "")


def main():
    gate = Floodgate(os.environ.get("FLOODGATE_URL", "http://127.0.0.1:8080"), token=os.environ.get("FLOODGATE_TOKEN"))
    slack = FakeSlack()
    for number in range(8):
        print(f"message {number}: {send(gate, slack, 'T024BE7LD', '#general', f'hello {number}')}")
    print(f"Slack saw {slack.calls} calls")


if __name__ == "__main__":
    main()
