"""Shared helpers of the hostile-input tests: synthetic registered files and an unprivileged CLI run."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from mnist_analysis.data.idx import encode_idx
from mnist_analysis.data.registry import DataFile

PROJECT = Path(__file__).resolve().parents[1]
NOBODY = 65534


def make_spec(array: np.ndarray, key: str = "tiny-labels", filename: str = "tiny-labels-idx1-ubyte.gz") -> DataFile:
    """A registry entry for synthetic content, pinned by the hash of its decompressed bytes."""
    data = encode_idx(array)
    return DataFile(
        key,
        filename,
        "mnist",
        hashlib.sha256(data).hexdigest(),
        len(data),
        array.shape,
        array.dtype.name,
        ("http://127.0.0.1:9/never/",),
    )


def run_cli(*args: str, env: dict | None = None, unprivileged: bool = False) -> subprocess.CompletedProcess:
    """Run ``mnist-analysis ARGS`` in a fresh process and return its exit code and output.

    ``unprivileged``: permissions mean nothing to root, so when the tests run as root the
    command runs in a forked child that first becomes ``nobody`` (a fork, not a new
    interpreter, because the interpreter itself may live where ``nobody`` cannot go).
    """
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MNIST_ANALYSIS_")}
    environment.update(env or {})
    if unprivileged:
        return _run_forked(list(args), environment)
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "mnist_analysis.cli", *args],
        env=environment,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _run_forked(args: list, environment: dict) -> subprocess.CompletedProcess:
    import requests  # noqa: F401

    import mnist_analysis.build.reports
    import mnist_analysis.cli as cli  # everything the child needs is imported before it drops privileges
    import mnist_analysis.data.sources  # noqa: F401

    with tempfile.TemporaryDirectory() as folder:
        out, err = Path(folder) / "out", Path(folder) / "err"
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 70
            try:
                os.environ.clear()
                os.environ.update(environment)
                sys.stdout, sys.stderr = open(out, "w"), open(err, "w")  # noqa: SIM115 (the child's streams until it exits)
                if os.geteuid() == 0:
                    os.setgroups([])
                    os.setgid(NOBODY)
                    os.setuid(NOBODY)
                try:
                    code = cli.main(args)
                except SystemExit as exit_:
                    code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException as error:  # report, never fall back into the test runner
                print(f"child failed: {error!r}", file=sys.stderr)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        return subprocess.CompletedProcess(args, os.waitstatus_to_exitcode(status), out.read_text(), err.read_text())


class WorldFolder:
    """A temporary folder every user can enter (pytest's own tmp folders are private to their owner)."""

    def __init__(self):
        self.path = Path(tempfile.mkdtemp(prefix="mnist-hostile-"))
        self.path.chmod(0o755)

    def make(self, name: str, mode: int = 0o755) -> Path:
        folder = self.path / name
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(mode)
        return folder

    def cleanup(self):
        for folder in [self.path, *self.path.rglob("*")]:
            if folder.is_dir() and not folder.is_symlink():
                folder.chmod(0o755)
        shutil.rmtree(self.path, ignore_errors=True)


def one_line_error(stderr: str, prog: str) -> str:
    """Assert that ``stderr`` is exactly one line, an error of ``prog`` without a traceback; return it."""
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"{prog}: error: "), stderr
    return lines[0]
