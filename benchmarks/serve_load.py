"""Load check of ``dlmctl serve``: many concurrent requests against a small queue get 200s and 503s
(with Retry-After), never a crash or a hang, and the server still answers ``/v1/health`` afterwards.

    python benchmarks/serve_load.py --requests 50 --queue 8

Starts ``dlmctl serve`` on the bundled model (or ``--model``), fires the requests at once from threads,
prints the count of each status and the slowest answer.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from browser_check import wait_for


def post(url: str, body: dict, timeout: float) -> tuple[int, float]:
    """(HTTP status, seconds) of one POST."""
    started = time.monotonic()
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--queue", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    command = [sys.executable, "-m", "dlmctl", "serve", "--port", str(args.port), "--queue", str(args.queue)]
    server = subprocess.Popen(command + (["--model", args.model] if args.model else []))
    base = f"http://127.0.0.1:{args.port}"
    try:
        wait_for(base + "/v1/health")
        body = {"controls": {"length": "8"}, "n": 2, "options": {"steps": args.steps}}
        with ThreadPoolExecutor(args.requests) as pool:
            answers = list(pool.map(lambda k: post(base + "/v1/generate", {**body, "seed": k}, 600),
                                    range(args.requests)))
        health = json.loads(urllib.request.urlopen(base + "/v1/health", timeout=10).read())
        statuses = Counter(status for status, _ in answers)
        print(json.dumps({"requests": args.requests, "queue": args.queue, "statuses": dict(statuses),
                          "slowest_s": round(max(s for _, s in answers), 1), "health_after": health,
                          "server_alive": server.poll() is None}))
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
