"""Optional browser check of the ``dlmctl serve`` playground: headless Chromium opens the page with a
POS-controlled request in its link, the page generates at once, and once the samples are shown the
check reads what the page shows (the sentences forming, step by step, and the samples with their
verdicts) and saves a screenshot of it.

    pip install playwright && apt-get install chromium     # Debian's Chromium; no browser download
    python benchmarks/browser_check.py --out benchmarks/results/playground.png

Needs Playwright and a Chromium; says which is missing and exits 0 without them. The link form
(``?c=NAME=TARGET&n=…&seed=…&steps=…&run``) is the page's own; open it in any browser.
"""

from __future__ import annotations

import argparse
import json
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


def read_page(browser: str, url: str, out: Path, timeout_s: float) -> dict:
    """Open ``url``, wait for the samples, save a full-page screenshot to ``out``; returns what the
    page showed: the forming history of each sample and the samples' lines."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        page = driver.chromium.launch(executable_path=browser, args=["--no-sandbox"]).new_page(
            viewport={"width": 1100, "height": 900})
        page.goto(url)
        page.wait_for_selector("#samples .sample", timeout=timeout_s * 1000)
        page.locator("#forming").scroll_into_view_if_needed()
        page.screenshot(path=str(out), full_page=True)
        return {"forming": [[li.inner_text() for li in row.locator("li").all()]
                            for row in page.locator("#forming .forming-row").all()],
                "samples": [s.inner_text() for s in page.locator("#samples .sample").all()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model to serve (default: the bundled one)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--target", default="PROPN AUX DET ADJ NOUN NOUN ADP DET NOUN PUNCT")
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the samples")
    parser.add_argument("--out", default="benchmarks/results/playground.png")
    args = parser.parse_args()
    browser = next(filter(None, map(shutil.which, BROWSERS)), None)
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("Playwright is not installed (pip install playwright): browser check skipped")
        return
    if browser is None:
        print(f"no Chromium here ({', '.join(BROWSERS)}): browser check skipped")
        return
    command = [sys.executable, "-m", "dlmctl", "serve", "--port", str(args.port)]
    server = subprocess.Popen(command + (["--model", args.model] if args.model else []))
    try:
        base = f"http://127.0.0.1:{args.port}"
        wait_for(base + "/v1/health")
        query = urllib.parse.urlencode([("c", f"pos={args.target}"), ("n", args.n), ("seed", 0),
                                        ("steps", args.steps)])
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shown = read_page(browser, f"{base}/?{query}&run", out, args.timeout)
        record = {"url": f"/?{query}&run", "browser": browser, "screenshot": out.name, **shown}
        out.with_suffix(".json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        print(json.dumps(record, indent=2, ensure_ascii=False))
        print(f"screenshot: {out}")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
