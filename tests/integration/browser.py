"""Open a page in Debian's headless ``chromium`` and report what happened.

:func:`open_page` runs chromium twice on a page URL (:func:`screenshot` on a
``file://`` page), both times with ``--enable-logging=stderr --v=0`` and
network logging on:

1. ``--screenshot``: the PNG (its size and dimensions are returned);
2. ``--dump-dom``: the DOM after load, so the caller can check what rendered
   (e.g. :func:`scenarios.report.empty_panels` on it).

Console messages logged by the page (``CONSOLE`` lines of chromium's log:
uncaught script errors, failed fetches, Content-Security-Policy refusals,
``console.log``) are returned as ``console_errors`` — a page that works logs
nothing, so any is a bug — and every URL the page requested that is not
``file:``/``data:``/``about:`` (from the ``--log-net-log`` capture, page
traffic only: see :data:`PAGE_TRAFFIC`) as ``network_requests``, except, for a
page served over http(s) from a loopback address (``http://127.0.0.1:PORT/...``),
the requests to that same origin: those are ``origin_requests``. chromium's
own noise on stderr (D-Bus, GPU) and its background requests are ignored. A
script or style that answers 404 logs no console message: request each of
``origin_requests`` again to check it.

Pages that run script: ``wait_ms`` runs both captures with
``--virtual-time-budget``, so timers, fetches and XHRs of the page get that
much (virtual) time before the screenshot and the DOM dump (without it, the
DOM is dumped at the load event, before any XHR answers). ``cookies`` are set
in each capture's fresh browser profile first (through the DevTools protocol
on a pipe, :func:`seed_cookies`), e.g. the session of a logged-in user.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

CHROMIUM = "chromium"
WINDOW = "1400,4000"
TIMEOUT_S = 90.0
LOCAL_SCHEMES = ("file:", "data:", "about:", "chrome:", "chrome-error:")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_CONSOLE = re.compile(r"CONSOLE[:(]\d+\)?\]\s*(?P<message>.*)")
_CONSOLE_LINE = re.compile(r":CONSOLE[:(]\d+")
#: chromium's network-traffic annotations of what a *page* loads: blink's resource
#: loader (images, styles, fonts, fetches) and navigations. Everything else in
#: the net log is the browser's own background traffic (update checks...).
PAGE_TRAFFIC = {101845102: "blink_resource_loader", 63171670: "navigation_url_loader"}
_REQUEST = re.compile(
    r'"traffic_annotation"\s*:\s*(?P<annotation>\d+)\s*,\s*"url"\s*:\s*"(?P<url>[^"]+)"'
)


class BrowserUnavailable(RuntimeError):
    """``chromium`` is not installed (``apt-get install -y chromium``)."""


@dataclass(frozen=True)
class Cookie:
    """A cookie for the pages of ``url``'s host (kept one hour)."""

    name: str
    value: str
    url: str


@dataclass(frozen=True)
class BrowserResult:
    png: Path
    png_bytes: int
    width: int
    height: int
    dom: str
    console_errors: list[str] = field(default_factory=list)
    network_requests: list[str] = field(default_factory=list)
    origin_requests: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.console_errors and not self.network_requests


def png_size(png: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    head = png.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{png} is not a PNG")
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def _flags(profile: Path, net_log: Path, wait_ms: int = 0) -> list[str]:
    budget = [f"--virtual-time-budget={wait_ms}"] if wait_ms > 0 else []
    return [
        *budget,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        f"--log-net-log={net_log}",
        f"--window-size={WINDOW}",
    ]


def _console(stderr: str) -> list[str]:
    found: list[str] = []
    for line in stderr.splitlines():
        if _CONSOLE_LINE.search(line):
            match = _CONSOLE.search(line)
            found.append(match.group("message") if match else line)
    return found


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an http(s) URL, or None."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or parts.hostname is None:
        return None
    try:
        return parts.scheme, parts.hostname, parts.port
    except ValueError:  # a port that is not a number in 0-65535
        return None


def _requests(net_log: Path) -> list[str]:
    """Every non-local URL the page loaded, from chromium's net log (possibly unterminated)."""
    try:
        text = net_log.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    urls = {
        m.group("url")
        for m in _REQUEST.finditer(text)
        if int(m.group("annotation")) in PAGE_TRAFFIC
    }
    return sorted(u for u in urls if not u.startswith(LOCAL_SCHEMES))


def _split_by_origin(page_url: str, requests: list[str]) -> tuple[list[str], list[str]]:
    """(requests elsewhere, requests to the page's own origin when it is a loopback one)."""
    origin = _origin(page_url)
    if origin is None or origin[1] not in LOOPBACK_HOSTS:
        return sorted(set(requests)), []
    own = {u for u in requests if _origin(u) == origin}
    return sorted(set(requests) - own), sorted(own)


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def _high_fd(fd: int) -> int:
    """``fd`` moved to a number of 10 or more (so it is never the child's 3 or 4)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


def _devtools_call(
    to_browser: IO[bytes], from_browser: int, call_id: int, method: str, params: object
) -> dict[str, object]:
    """Send one DevTools command on the pipe and read messages up to its answer."""
    message = {"id": call_id, "method": method, "params": params}
    to_browser.write(json.dumps(message).encode() + b"\0")
    to_browser.flush()
    deadline = time.monotonic() + TIMEOUT_S
    buffer = b""
    while True:
        while b"\0" in buffer:
            raw, buffer = buffer.split(b"\0", 1)
            answer: dict[str, object] = json.loads(raw)
            if answer.get("id") == call_id:
                if "error" in answer:
                    raise RuntimeError(f"chromium refused {method}: {answer['error']}")
                return answer
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([from_browser], [], [], left)[0]:
            raise RuntimeError(f"chromium did not answer {method} within {TIMEOUT_S:g} s")
        chunk = os.read(from_browser, 65536)
        if not chunk:
            raise RuntimeError(f"chromium closed the DevTools pipe before answering {method}")
        buffer += chunk


def seed_cookies(binary: str, profile: Path, cookies: Sequence[Cookie]) -> None:
    """Store ``cookies`` (persistent, one hour) in the chromium profile ``profile``.

    chromium's command line takes no cookie: a headless chromium on the
    profile, driven through ``--remote-debugging-pipe`` (commands on its fd 3,
    answers on its fd 4, NUL-terminated JSON), sets them with
    ``Storage.setCookies`` and closes, which writes them to the profile.
    """
    child_in, to_browser = os.pipe()
    from_browser, child_out = os.pipe()
    child_in, child_out = _high_fd(child_in), _high_fd(child_out)
    argv = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--remote-debugging-pipe",
        "about:blank",
    ]
    # bash, not sh: dash cannot redirect file descriptors above 9.
    redirect = f'exec "$@" 3<&{child_in} 4>&{child_out} {child_in}<&- {child_out}>&-'
    process = subprocess.Popen(
        ["bash", "-c", redirect, "bash", *argv],
        pass_fds=(child_in, child_out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(child_in)
    os.close(child_out)
    expires = time.time() + 3600
    try:
        with os.fdopen(to_browser, "wb") as pipe:
            params = {
                "cookies": [
                    {"name": c.name, "value": c.value, "url": c.url, "expires": expires}
                    for c in cookies
                ]
            }
            _devtools_call(pipe, from_browser, 1, "Storage.setCookies", params)
            _devtools_call(pipe, from_browser, 2, "Browser.close", {})
        process.wait(timeout=TIMEOUT_S)
    finally:
        os.close(from_browser)
        if process.poll() is None:
            process.kill()
            process.wait()


def open_page(
    url: str, png: Path, *, wait_ms: int = 0, cookies: Sequence[Cookie] = ()
) -> BrowserResult:
    """Screenshot the page at ``url`` into ``png`` headless; see the module docstring."""
    binary = shutil.which(CHROMIUM)
    if binary is None:
        raise BrowserUnavailable("chromium is not on PATH (apt-get install -y chromium)")
    png = png.resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    console: list[str] = []
    requests: list[str] = []
    with tempfile.TemporaryDirectory(prefix="chaoslab-browser-") as tmp:
        work = Path(tmp)
        if cookies:
            for profile in ("profile-shot", "profile-dom"):
                seed_cookies(binary, work / profile, cookies)
        shot_log = work / "shot-net.json"
        shot_flags = _flags(work / "profile-shot", shot_log, wait_ms)
        shot = _run([binary, *shot_flags, f"--screenshot={png}", url])
        if shot.returncode != 0 or not png.is_file():
            raise RuntimeError(
                f"chromium failed ({shot.returncode}) to screenshot {url}:\n{shot.stderr[-2000:]}"
            )
        console += _console(shot.stderr)
        requests += _requests(shot_log)
        dom_log = work / "dom-net.json"
        dom_flags = _flags(work / "profile-dom", dom_log, wait_ms)
        dumped = _run([binary, *dom_flags, "--dump-dom", url])
        console += _console(dumped.stderr)
        requests += _requests(dom_log)
    width, height = png_size(png)
    elsewhere, own = _split_by_origin(url, requests)
    return BrowserResult(
        png=png,
        png_bytes=png.stat().st_size,
        width=width,
        height=height,
        dom=dumped.stdout,
        console_errors=console,
        network_requests=elsewhere,
        origin_requests=own,
    )


def screenshot(html: Path, png: Path) -> BrowserResult:
    """Screenshot the local file ``html`` into ``png`` headless; see the module docstring."""
    return open_page(html.resolve().as_uri(), png)


def main() -> None:  # pragma: no cover - a manual check: python tests/integration/browser.py PAGE
    import sys

    page, png = sys.argv[1], Path(sys.argv[2] if len(sys.argv) > 2 else "page.png")
    result = open_page(page, png) if "://" in page else screenshot(Path(page), png)
    summary = {k: v for k, v in result.__dict__.items() if k != "dom"}
    print(json.dumps(summary, default=str, indent=2))


if __name__ == "__main__":
    main()
