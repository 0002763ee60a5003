"""Drives acquire/record load on a live sidecar while its Redis is killed (SIGKILL) and started again on the same
port; measures what the issue asks: calls failed because of Redis, decision latency while Redis is down, connection
attempts while down, time from Redis being back to the sidecar's reconnection and to shared mode.

Used by scripts/redis-outage; standard library only. Prints a report and exits 1 when a goal is missed.
"""

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import threading
import time


def redis(port, *words):
    """One command through redis-cli; its output (empty when the server is down)."""
    run = subprocess.run(["redis-cli", "-p", str(port), *words], capture_output=True, text=True, timeout=5)
    return run.stdout.strip() if run.returncode == 0 else ""


def connect(url, timeout):
    """A keep-alive HTTP connection to the sidecar at `url` (http://host:port)."""
    host, port = url.split("//")[1].split(":")
    return http.client.HTTPConnection(host, int(port), timeout=timeout)


def get(url, path):
    """The body of one GET."""
    connection = connect(url, 5)
    connection.request("GET", path)
    body = connection.getresponse().read()
    connection.close()
    return body


def metric(url, name, labels):
    """A counter from /metrics (0 when absent)."""
    for line in get(url, "/metrics").decode().splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def health(url):
    return json.loads(get(url, "/api/health"))


class Tally:
    """Results of one phase of the run: requests, failures by kind, acquire latencies."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.failures = {}
        self.latencies = []

    def add(self, latency, failure=None):
        with self.lock:
            self.requests += 1
            if latency is not None:
                self.latencies.append(latency)
            if failure:
                self.failures[failure] = self.failures.get(failure, 0) + 1

    def summary(self):
        lat = sorted(self.latencies)
        pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0
        return {
            "requests": self.requests,
            "failures": dict(self.failures),
            "acquireP50Ms": round(pick(0.50), 2),
            "acquireP99Ms": round(pick(0.99), 2),
            "acquireMaxMs": round(max(lat) * 1000, 2) if lat else 0,
        }


def worker(url, stop, phase, tallies, seed):
    rng = random.Random(seed)
    connection = connect(url, 10)
    while not stop.is_set():
        tally = tallies[phase[0]]
        tenant = f"t{rng.randrange(1000)}"
        try:
            started = time.monotonic()
            connection.request("POST", "/v1/acquire", json.dumps({"integration": "bench", "tenant": tenant}))
            response = connection.getresponse()
            body = json.loads(response.read() or b"{}")
            latency = time.monotonic() - started
            if response.status != 200:
                tally.add(latency, f"acquire {response.status} {body.get('error', {}).get('code')}")
                continue
            connection.request("POST", "/v1/record", json.dumps({"permit": body["permit"], "outcome": "success"}))
            recorded = connection.getresponse()
            recorded.read()
            tally.add(latency, None if recorded.status == 200 else f"record {recorded.status}")
        except (OSError, http.client.HTTPException) as error:
            tally.add(None, f"transport {type(error).__name__}")
            connection.close()
            connection = connect(url, 10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--before", type=float, default=10)
    parser.add_argument("--down", type=float, default=10)
    parser.add_argument("--after", type=float, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("redis_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    redis_args = [a for a in args.redis_args if a != "--"]

    tallies = {"before": Tally(), "down": Tally(), "after": Tally()}
    phase = ["before"]
    stop = threading.Event()
    threads = [threading.Thread(target=worker, args=(args.url, stop, phase, tallies, i)) for i in range(args.workers)]
    for thread in threads:
        thread.start()
    time.sleep(args.before)

    pid = int(redis(args.redis_port, "info", "server").split("process_id:")[1].split()[0])
    attempts_failed_before = metric(args.url, "floodgate_redis_connection_attempts_total", {"outcome": "failed"})
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    phase[0] = "down"
    time.sleep(args.down)

    attempts_failed_down = metric(args.url, "floodgate_redis_connection_attempts_total", {"outcome": "failed"})
    attempts_connected = metric(args.url, "floodgate_redis_connection_attempts_total", {"outcome": "connected"})
    subprocess.run(["redis-server", *redis_args, "--daemonize", "yes"], check=True, stdout=subprocess.DEVNULL)
    while redis(args.redis_port, "ping") != "PONG":
        time.sleep(0.005)
    back_at = time.monotonic()
    phase[0] = "after"
    reconnected_at = shared_at = None
    deadline = back_at + 15
    while time.monotonic() < deadline and (reconnected_at is None or shared_at is None):
        now = time.monotonic()
        if reconnected_at is None and "name=floodgate-" in redis(args.redis_port, "client", "list"):
            reconnected_at = now
        if shared_at is None and health(args.url).get("mode") == "shared":
            shared_at = now
        time.sleep(0.01)
    time.sleep(max(0.0, args.after - (time.monotonic() - back_at)))
    stop.set()
    for thread in threads:
        thread.join()

    outage = back_at - killed_at
    sidecar_connections = redis(args.redis_port, "client", "list").count("name=floodgate-")
    failed_while_down = attempts_failed_down - attempts_failed_before
    connected_after = metric(args.url, "floodgate_redis_connection_attempts_total", {"outcome": "connected"}) - attempts_connected
    report = {
        "phases": {name: tally.summary() for name, tally in tallies.items()},
        "outageSeconds": round(outage, 2),
        "failedConnectionAttemptsWhileDown": int(failed_while_down),
        "sidecarConnectionsOpenAfter": sidecar_connections,
        "connectionsMadeAfterReturn": int(connected_after),
        "reconnectSeconds": round(reconnected_at - back_at, 3) if reconnected_at else None,
        "sharedModeSeconds": round(shared_at - back_at, 3) if shared_at else None,
    }
    print(json.dumps(report, indent=2))

    problems = []
    failures = sum(sum(t.failures.values()) for t in tallies.values())
    if failures:
        problems.append(f"{failures} calls failed")
    if tallies["down"].requests == 0:
        problems.append("no calls while Redis was down")
    if report["reconnectSeconds"] is None or report["reconnectSeconds"] > 1.0:
        problems.append(f"reconnected after {report['reconnectSeconds']} s (goal: within 1 s)")
    # The client's back-off: 25 ms doubling to 1 s, jittered down to half: per connection at most ~8 attempts in
    # the first 2 s, then at most 2 a second. The sidecar keeps two connections (commands, pub/sub).
    bound = 2 * (8 + 2 * outage)
    if failed_while_down > bound:
        problems.append(f"{int(failed_while_down)} failed connection attempts in {outage:.1f} s (bound {bound:.0f})")
    if tallies["down"].latencies and max(tallies["down"].latencies) > 2.0:
        problems.append("a decision waited longer than the 2 s command timeout while Redis was down")
    print("redis-outage: " + ("passed" if not problems else "FAILED: " + "; ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
