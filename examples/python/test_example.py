"""The Python example against a live sidecar (FLOODGATE_URL). Run by the Swift test suite
(`SidecarPythonExampleTests`), or by hand: FLOODGATE_URL=http://127.0.0.1:8080 python3 -m unittest test_example."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from floodgate_client import Floodgate, FloodgateError, Refused  # noqa: E402
from slack_example import FakeSlack, send  # noqa: E402

URL = os.environ.get("FLOODGATE_URL", "http://127.0.0.1:8080")


class SlackThroughTheSidecar(unittest.TestCase):
    def setUp(self):
        self.gate = Floodgate(URL, token=os.environ.get("FLOODGATE_TOKEN"))

    def test_a_429_holds_the_workspace_back_and_no_call_reaches_slack_meanwhile(self):
        slack = FakeSlack()
        results = [send(self.gate, slack, "Tpy429", "#general", f"m{i}") for i in range(8)]
        self.assertEqual(results[:4], ["sent"] * 4)
        self.assertEqual(results[4], "throttled")
        self.assertTrue(all(r.startswith("refused: provider_backoff") for r in results[5:]), results)
        self.assertEqual(slack.calls, 5, "nothing went out after the 429")
        state = self.gate.key_state("slack", "Tpy429")
        self.assertIsNotNone(state["backoffUntil"])

    def test_an_exception_in_the_guarded_block_records_a_failure_and_propagates(self):
        with self.assertRaises(ZeroDivisionError):
            with self.gate.guard("slack", "Tpyfail"):
                1 / 0
        # The permit was recorded: recording it again is an unknown permit.
        permit = self.gate.acquire("slack", "Tpyfail")
        self.gate.record(permit, outcome="success")
        with self.assertRaises(FloodgateError) as caught:
            self.gate.record(permit, outcome="success")
        self.assertEqual(caught.exception.code, "unknown_permit")

    def test_bad_input_is_a_clear_error(self):
        with self.assertRaises(FloodgateError) as caught:
            self.gate.acquire("nope", "T1")
        self.assertEqual((caught.exception.status, caught.exception.code), (404, "unknown_integration"))
        with self.assertRaises(FloodgateError) as caught:
            self.gate.acquire("slack", "bad/tenant")
        self.assertEqual(caught.exception.code, "invalid_key")

    def test_a_forced_breaker_refuses_without_a_retry_time(self):
        self.gate.force_breaker("salesforce", "open")
        try:
            with self.assertRaises(Refused) as caught:
                self.gate.acquire("salesforce", "Tpy")
            self.assertEqual(caught.exception.code, "breaker_open")
            self.assertIsNone(caught.exception.retry_at)
        finally:
            self.gate.force_breaker("salesforce", "auto")


if __name__ == "__main__":
    unittest.main()
