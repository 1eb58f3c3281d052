"""Small helpers several test modules share (test modules never import one another)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path


def stored_computations(monkeypatch) -> list[str]:
    """Spy on the result cache: the returned list gains the function's name each time a result is computed and stored.

    A miss computes and stores; a hit only reads. Replacing the computation itself would not do:
    the cache does not store what a monkeypatched function computes.
    """
    from mnist_analysis import stored_results

    computed: list[str] = []
    store = stored_results.write_entry

    def counted(folder, parts, result, seconds):
        computed.append(parts["function"])
        return store(folder, parts, result, seconds)

    monkeypatch.setattr(stored_results, "write_entry", counted)
    return computed


@contextlib.contextmanager
def read_only(*folders: Path):
    """Make folders read-only for this process: ``chattr +i`` for root (to whom modes mean nothing), else modes."""
    root = os.geteuid() == 0
    for folder in folders:
        subprocess.run(["chattr", "+i", str(folder)], check=True) if root else folder.chmod(0o555)
    try:
        yield
    finally:
        for folder in folders:
            subprocess.run(["chattr", "-i", str(folder)], check=True) if root else folder.chmod(0o755)
