"""Helpers for the browser tests: Debian's Chromium driven by Playwright."""

import base64
import os
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
# As root, without a sandbox; and no background traffic: the machine has no
# network, and Chromium's update and sync checks would only fail.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def drop_files(page, selector: str, files: list[tuple[str, bytes]]) -> None:
    """Drop files on an element the way a person drags them from their desktop."""
    payload = [{"name": name, "data": base64.b64encode(data).decode()} for name, data in files]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const file of files) {
                const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], file.name, { type: "image/jpeg" }));
            }
            return transfer;
        }""",
        payload,
    )
    page.dispatch_event(selector, "dragenter", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # Lazy images load as they come into view; a full-page shot needs them all.
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach((i) => (i.loading = 'eager'))")
    # A function, not an expression: Playwright polls expressions with eval, which the CSP forbids.
    page.wait_for_function("() => Array.from(document.images).every((i) => i.complete)")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
