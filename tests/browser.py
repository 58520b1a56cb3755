"""Headless Chromium for the HTML report's tests: a screenshot, the DOM after scripts ran, console errors.

Debian's `chromium` (installed by .ci/run where apt-get exists); tests skip
cleanly without it.  Each call starts a fresh browser with a throw-away
profile and no network services, so a run takes a second or two.

Run as a script to regenerate the screenshots of docs/html/:

    PYTHONPATH=. python tests/browser.py docs/html
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (1200, 1600)
TIMEOUT = 120  # seconds: a cold start on a busy 2-core machine, far above the usual 1-3 s
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--hide-scrollbars",
)
# What Chromium logs (with --enable-logging=stderr) for a page's console calls and uncaught
# errors: `[...:INFO:CONSOLE:1] "Uncaught Error: boom", source: file:///... (1)`. The report
# writes nothing to the console, so any such line is a finding.
CONSOLE = re.compile(r"CONSOLE[:(]\d+|Uncaught")


def find_chromium() -> str | None:
    """The path of a Chromium-like browser, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    browser = find_chromium()
    if browser is None:
        raise RuntimeError("no chromium on PATH")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", *args, Path(page).resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )


def screenshot(page: Path, png: Path, *, window: tuple[int, int] = WINDOW) -> Path:
    """A PNG of the top `window` pixels of `page`."""
    done = _run(
        page, f"--screenshot={Path(png).resolve()}", f"--window-size={window[0]},{window[1]}"
    )
    if not Path(png).exists():
        raise RuntimeError(
            f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
        )
    return Path(png)


def dump_dom(page: Path) -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and the console errors Chromium logged."""
    done = _run(page, "--dump-dom", "--enable-logging=stderr", "--v=0")
    errors = [line for line in done.stderr.splitlines() if CONSOLE.search(line)]
    return done.stdout, errors


def main(folder: str) -> None:
    from html_bugs import BUGS, bug_page

    out = Path(folder)
    with tempfile.TemporaryDirectory() as scratch:
        for name in BUGS:
            page = Path(scratch) / f"{name}.html"
            page.write_text(bug_page(name).html, encoding="utf-8")
            print(screenshot(page, out / f"{name}.png"))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/html")
