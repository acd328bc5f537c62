"""Headless Chromium: rendered DOMs, screenshots and PDFs of local pages.

Two ways in. The one-shot helpers (``rendered_dom``, ``screenshot``) run the Chromium command
line with a virtual-time budget. ``Chromium`` drives one browser over the DevTools protocol
(a websocket), which lets a caller wait for what a page is actually doing (MathJax typesetting,
charts drawing, fonts loading) instead of guessing a time budget, run script in the page, and
print with the protocol's options (paper size, margins, header and footer with page numbers).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

# Chromium flags that work headless on this kind of machine (no sandbox as root, no GPU, no
# background connections to Google's hosts, which are unreachable here).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium_executable() -> str | None:
    """Path of a Chromium/Chrome binary, or ``None`` if none is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _require_chromium() -> str:
    exe = chromium_executable()
    if exe is None:
        msg = "headless Chromium is not installed (Debian: apt-get install chromium)"
        raise FileNotFoundError(msg)
    return exe


def _chromium(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    exe = _require_chromium()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        _end_group(proc)
        _remove_profile(profile)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _end_group(proc: subprocess.Popen[Any]) -> None:
    """End Chromium's whole process group: its helpers (renderer, crashpad) can outlive the browser
    process and keep writing into the profile."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _remove_profile(folder: str | os.PathLike[str], attempts: int = 20) -> None:
    """Remove a profile folder, retrying while a dying helper process still writes into it."""
    for _ in range(attempts):
        try:
            shutil.rmtree(folder)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(folder, ignore_errors=True)


def rendered_dom(url: str, budget_ms: int = 10000, timeout: float = 120) -> str:
    """The DOM of ``url`` after its scripts ran (headless Chromium ``--dump-dom``)."""
    result = _chromium([f"--virtual-time-budget={budget_ms}", "--dump-dom", url], timeout)
    if result.returncode != 0 or not result.stdout.strip():
        msg = f"chromium could not render {url}: {result.stderr[-2000:]}"
        raise RuntimeError(msg)
    return result.stdout


def screenshot(url: str, png_path: str | os.PathLike[str], size: str = "1280,1600", budget_ms: int = 10000) -> Path:
    """Save a screenshot of ``url`` (headless Chromium)."""
    out = Path(png_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    result = _chromium([f"--window-size={size}", f"--virtual-time-budget={budget_ms}", f"--screenshot={out}", url], 120)
    if result.returncode != 0 or not out.is_file():
        msg = f"chromium could not screenshot {url}: {result.stderr[-2000:]}"
        raise RuntimeError(msg)
    return out


class BrowserError(RuntimeError):
    """Chromium failed to start, a protocol call failed, or a page script threw."""


class Chromium:
    """One headless Chromium with one page, driven over the DevTools protocol.

    Use as a context manager; the browser and its temporary profile are gone on exit::

        with Chromium() as browser:
            browser.navigate(Path("index.html").resolve().as_uri())
            browser.wait_for("document.fonts.status === 'loaded'")
            pdf = browser.print_pdf(paperWidth=8.27, paperHeight=11.69)
    """

    def __init__(self, timeout: float = 120) -> None:
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._profile: str | None = None
        self._ws: Any = None
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        import websocket  # websocket-client

        exe = _require_chromium()
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        profile = Path(self._profile)
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"]
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                msg = f"chromium exited at start ({self._proc.returncode}): {err[-2000:]}"
                raise BrowserError(msg)
            if time.monotonic() > deadline:
                msg = "chromium did not open its DevTools port within 30 s"
                raise BrowserError(msg)
            time.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            msg = f"chromium has no page target: {targets}"
            raise BrowserError(msg)
        # suppress_origin: Chromium refuses websocket clients that send an Origin it was not told to allow.
        self._ws = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=self.timeout, suppress_origin=True
        )
        self.send("Page.enable")
        self.send("Runtime.enable")

    def close(self) -> None:
        """Close the connection, end the browser, remove its profile (safe to call twice)."""
        if self._ws is not None:
            with contextlib.suppress(OSError):
                self._ws.close()
            self._ws = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=10)
            _end_group(self._proc)
            if self._proc.stderr is not None:
                self._proc.stderr.close()
            self._proc = None
        if self._profile is not None:
            _remove_profile(self._profile)
            self._profile = None

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a DevTools protocol method and return its result; events met meanwhile are kept."""
        if self._ws is None:
            msg = "the browser is not running (use Chromium as a context manager)"
            raise BrowserError(msg)
        self._next_id += 1
        call_id = self._next_id
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    msg = f"{method} failed: {message['error']}"
                    raise BrowserError(msg)
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)

    def _wait_event(self, method: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method:
                    return self._events.pop(i)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"no {method} within {timeout:.0f} s"
                raise BrowserError(msg)
            self._ws.settimeout(remaining)
            try:
                message = json.loads(self._ws.recv())
            finally:
                self._ws.settimeout(self.timeout)
            if "method" in message:
                self._events.append(message)

    def navigate(self, url: str, timeout: float | None = None) -> None:
        """Open ``url`` and wait for its load event (scripts and stylesheets of the page loaded)."""
        self._events.clear()
        result = self.send("Page.navigate", url=url)
        if result.get("errorText"):
            msg = f"could not open {url}: {result['errorText']}"
            raise BrowserError(msg)
        self._wait_event("Page.loadEventFired", timeout or self.timeout)

    def evaluate(self, expression: str, await_promise: bool = True) -> Any:
        """The value of ``expression`` in the page (a promise is awaited); raises if it throws."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=await_promise, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            msg = f"page script failed: {text}"
            raise BrowserError(msg)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60, interval: float = 0.1) -> Any:
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                msg = f"timed out after {timeout:.0f} s waiting for: {expression}"
                raise BrowserError(msg)
            time.sleep(interval)

    def emulate(self, width: int, height: int, scale: float = 1.0, media: str = "") -> None:
        """Set the viewport (CSS pixels), the device pixel ratio and the emulated CSS media type."""
        self.send(
            "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=scale, mobile=False
        )
        self.send("Emulation.setEmulatedMedia", media=media)

    def print_pdf(self, **options: Any) -> bytes:
        """The page printed to PDF (``Page.printToPDF`` options, e.g. ``paperWidth`` in inches)."""
        result = self.send("Page.printToPDF", **options)
        return base64.b64decode(result["data"])
