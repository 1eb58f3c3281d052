"""Small helpers several test modules share (test modules never import one another)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest


def stored_computations(monkeypatch) -> list[str]:
    """Spy on the result cache: the returned list gains the function's name each time a result is computed and stored.

    A miss computes and stores; a hit only reads. Replacing the computation itself would not do:
    the cache does not store what a monkeypatched function computes.
    """
    from mnist_analysis.caching import stored_results

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


@contextlib.contextmanager
def full_disk(free_kb: int = 8):
    """A small file system of its own (tmpfs, mounted as root) with only ``free_kb`` kB left free."""
    if os.geteuid() != 0:
        pytest.skip("mounting a full file system needs root")
    folder = Path(tempfile.mkdtemp(prefix="mnist-full-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], check=True)
    try:
        filler = folder / "filler"
        with open(filler, "wb", buffering=0) as handle:
            try:
                while True:
                    handle.write(bytes(1024))
            except OSError:
                pass
        with open(filler, "r+b") as handle:
            handle.truncate(max(0, filler.stat().st_size - free_kb * 1024))
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)
        folder.rmdir()


def write_notebook(path: Path, *code: str) -> Path:
    """A notebook of a title, a `parameters` cell (`sample_size`, `seed`) and the given code cells."""
    from nbformat import write
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    cells = [
        new_markdown_cell(f"# {path.stem} title"),
        new_code_cell("sample_size = None\nseed = 0", metadata={"tags": ["parameters"]}),
    ]
    nb = new_notebook(
        cells=cells + [new_code_cell(c) for c in code],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    write(nb, path)
    return path


def bar_digits(n: int = 6, seed: int = 0) -> np.ndarray:
    """Bars of random size and position: enough ink for every measurement."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), np.uint8)
    for image in images:
        top, left = rng.integers(2, 10, size=2)
        image[top : top + rng.integers(8, 16), left : left + rng.integers(2, 6)] = 255
    return images


def cache_entries(kind: str) -> list[Path]:
    """The result-cache entries of ``kind`` in the test's cache folder."""
    from mnist_analysis.caching import cache

    return sorted(p.parent for p in (cache.cache_dir() / cache.COMPUTED / kind).glob("*/entry.json"))


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in a file by ``new`` (failing if it is not there), as an editor would."""
    source = path.read_text()
    assert old in source, f"{old!r} not in {path.name}"
    path.write_text(source.replace(old, new, 1))


def with_label_quality(frame, *, seed: int, flipped_share: float, shift: int, second_model: str):
    """``frame`` with seeded stand-ins for the per-image table's label-quality columns.

    The ``flipped_share`` least trusted digits (random ``label_quality``) are suggested the
    class ``shift`` above their label; ``knn`` always votes the suggestion, ``second_model``
    does for about half the digits; ranks run over both splits, most suspect first.
    """
    rng = np.random.default_rng(seed)
    n = len(frame)
    quality = rng.random(n)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(quality, kind="stable")] = np.arange(1, n + 1)
    suggested = np.where(quality < flipped_share, (frame["label"] + shift) % 10, frame["label"])
    return frame.assign(
        predicted_knn=suggested,
        **{f"predicted_{second_model}": np.where(rng.random(n) < 0.5, frame["label"], suggested)},
        suggested_label=suggested,
        suggested_probability=1 - quality / 2,
        label_quality=quality,
        label_issue_rank=rank,
        disagreeing_models=rng.choice(["none", "knn", f"knn+{second_model}"], n),
    )
