"""Find Debian's headless Chromium for the browser tests: fail under CI when it is missing, skip elsewhere."""

from __future__ import annotations

import os
import shutil

import pytest


def chromium_executable() -> str:
    """The path of ``chromium`` (or ``chromium-browser``); fails under ``CI=true`` and skips elsewhere without it."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        message = "headless Chromium not found: `make test` installs Debian's chromium package"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    return executable
