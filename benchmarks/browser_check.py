"""Optional browser check of the ``dlmctl serve`` playground: headless Chromium (Debian's ``chromium``
package) opens the page with a POS-controlled request in its link, the page generates at once, and
a screenshot of the result is saved. Needs Chromium; says so and exits 0 without it.

    python benchmarks/browser_check.py --out benchmarks/results/playground.png

The link form (``?c=NAME=TARGET&n=…&seed=…&steps=…&run``) is the page's own; open it in any browser.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def wait_for(url: str, seconds: float = 60) -> None:
    """Return once ``url`` answers, or fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the server did not answer at {url} within {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model to serve (default: the bundled one)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--target", default="PROPN AUX DET ADJ NOUN NOUN ADP DET NOUN PUNCT")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--out", default="benchmarks/results/playground.png")
    args = parser.parse_args()
    browser = next((b for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        print(f"no Chromium here ({', '.join(BROWSERS)}): browser check skipped")
        return
    command = [sys.executable, "-m", "dlmctl", "serve", "--port", str(args.port)]
    server = subprocess.Popen(command + (["--model", args.model] if args.model else []))
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_for(base + "/v1/health")
        query = urllib.parse.urlencode([("c", f"pos={args.target}"), ("n", 3), ("seed", 0), ("steps", args.steps)])
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,900",
                        "--virtual-time-budget=120000", f"--screenshot={Path(args.out).resolve()}",
                        f"{base}/?{query}&run"], check=True, timeout=300)
        print(f"screenshot: {args.out}")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
