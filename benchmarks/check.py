"""Which benchmark results still describe the code: fresh, stale (naming the changed files) or unknown.

Each ``benchmarks/results/*.json`` written by ``common.write_result`` records the commit it
was measured on, the uncommitted files then (with the git blob hash of their content) and the
files and folders it depends on (``depends_on``: the package code its processes imported and
all that code can import, its notebooks, the package's data files, ``pyproject.toml``,
``benchmarks/common.py`` and its script, see ``common.measured_code``; for older results
without one: ``mnist_analysis/``, ``notebooks/``, ``pyproject.toml``, ``benchmarks/common.py``
and its script). A moved or deleted file counts as changed. A result is
*fresh* when every file it depends on has the content it had when measured, *stale* when one
differs (the files are named), and *unknown* when it records no commit (results written before
issue 23) or a commit this repository does not have. A Python file whose comments, docstrings
or layout alone changed is not a change: its syntax tree without docstrings is compared (such
files are listed as ``docs_only``), so correcting a docstring does not cost a re-run.
Notebooks and data files are compared byte for byte.

``python benchmarks/check.py`` (``make benchmark-check``, run by ``make test-fast``) lists every
result, compared with the working tree. It exits 0 however stale the results are, 1 when a
result file cannot be read as a JSON object. ``--write-readme`` writes ``benchmarks/README.md``:
a table of every result's targets and headline figures with its date, commit and freshness
as of the commit checked out (``HEAD``); ``tests/test_benchmarks.py`` checks the README is what
this script generates from the JSONs.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "benchmarks" / "README.md"
DEFAULT_DEPENDS_ON = ("mnist_analysis/", "notebooks/", "pyproject.toml", "benchmarks/common.py")
#: Never a dependency: the results themselves and the generated table.
NOT_CODE = ("benchmarks/results/", "benchmarks/README.md")
AS_OF = re.compile(r"Freshness as of commit `([0-9a-f]{40})`")


class UnreadableResult(ValueError):
    """A results file that is not a JSON object."""


def git(root: Path, *args: str, input: str | None = None) -> tuple[int, str]:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, input=input)
    return done.returncode, done.stdout


def read_result(path: Path) -> dict:
    """The result in ``path``, or :class:`UnreadableResult` naming the file and what is wrong."""
    try:
        result = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnreadableResult(f"{path}: cannot be read as JSON: {error}") from error
    if not isinstance(result, dict):
        raise UnreadableResult(f"{path}: expected a JSON object, found {type(result).__name__}")
    return result


def depends_on(result: dict, name: str) -> list[str]:
    """The paths (files, or folders ending in ``/``) whose change makes ``result`` stale."""
    declared = result.get("depends_on")
    if isinstance(declared, list) and all(isinstance(p, str) for p in declared):
        return declared
    script = result.get("script") or f"benchmarks/bench_{name}.py"
    return [*DEFAULT_DEPENDS_ON, script]


def _is_code(path: str) -> bool:
    return not path.startswith(NOT_CODE) and "__pycache__" not in path


def _within(path: str, paths: list[str]) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p.rstrip("/") + "/") for p in paths)


def tree_blobs(root: Path, paths: list[str], ref: str | None = None) -> dict[str, str]:
    """Blob hash of every file under ``paths``: in commit ``ref``, or in the working tree when ``ref`` is None."""
    specs = [p.rstrip("/") for p in paths]
    if ref is not None:
        _, out = git(root, "ls-tree", "-r", ref, "--", *specs)
        blobs = {}
        for line in out.splitlines():
            meta, path = line.split("\t", 1)
            blobs[path] = meta.split()[2]
        return {p: b for p, b in blobs.items() if _is_code(p)}
    _, tracked = git(root, "ls-files", "--cached", "--others", "--exclude-standard", "--", *specs)
    files = sorted({p for p in tracked.splitlines() if _is_code(p) and (root / p).is_file()})
    if not files:
        return {}
    _, out = git(root, "hash-object", "--stdin-paths", input="\n".join(files) + "\n")
    return dict(zip(files, out.split()))


def _blob_text(root: Path, blob: str) -> str | None:
    code, out = git(root, "cat-file", "blob", blob)
    return None if code else out


def _without_docstrings(source: str | None) -> str | None:
    """The syntax tree of ``source`` without docstrings, comments or layout; None if it does not parse."""
    if source is None:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@functools.lru_cache(maxsize=256)
def _code_of(root: Path, blob: str, working_path: str | None) -> str | None:
    """:func:`_without_docstrings` of a blob: from git, or from ``working_path`` when it is a working-tree file.

    Keyed by the blob's hash (the content's), so each version of a file is read and parsed once
    however many results depend on it.
    """
    if working_path is None:
        return _without_docstrings(_blob_text(root, blob))
    try:
        return _without_docstrings((root / working_path).read_text())
    except (OSError, UnicodeDecodeError):
        return None


def _same_code(root: Path, path: str, measured_blob: str | None, now_blob: str | None, as_of: str | None) -> bool:
    """Whether a Python file changed only in comments, docstrings or layout."""
    if not path.endswith(".py") or measured_blob is None or now_blob is None:
        return False
    before = _code_of(root, measured_blob, None)
    return before is not None and before == _code_of(root, now_blob, path if as_of is None else None)


def freshness(result: dict, name: str, root: Path = ROOT, as_of: str | None = None) -> dict:
    """Compare what ``result`` measured with the working tree (or commit ``as_of``).

    Returns ``{"status": "fresh" | "stale" | "unknown", "changed": [...], "docs_only": [...], "reason": str}``.
    """
    commit = result.get("commit")
    if not commit:
        return {"status": "unknown", "changed": [], "docs_only": [], "reason": "no commit recorded"}
    code, _ = git(root, "cat-file", "-e", f"{commit}^{{commit}}")
    if code:
        return {
            "status": "unknown",
            "changed": [],
            "docs_only": [],
            "reason": f"commit {commit[:12]} is not in this repository",
        }
    paths = depends_on(result, name)
    measured = tree_blobs(root, paths, commit)
    for path, blob in (result.get("dirty_files") or {}).items():
        if _within(path, paths) and _is_code(path):
            if blob is None:
                measured.pop(path, None)
            else:
                measured[path] = blob
    now = tree_blobs(root, paths, as_of)
    differ = sorted(p for p in set(measured) | set(now) if measured.get(p) != now.get(p))
    docs_only = [p for p in differ if _same_code(root, p, measured.get(p), now.get(p), as_of)]
    changed = [p for p in differ if p not in docs_only]
    dirty = [p for p in (result.get("dirty_files") or {}) if _within(p, paths)]
    reason = f"measured on {commit[:12]}" + (f" with {len(dirty)} uncommitted file(s)" if dirty else "")
    if docs_only:
        reason += f"; only comments or docstrings changed in {', '.join(docs_only)}"
    return {"status": "stale" if changed else "fresh", "changed": changed, "docs_only": docs_only, "reason": reason}


def uniform_targets(result: dict) -> list[dict] | None:
    """The result's ``targets`` list when it follows ``common.target``'s format, else None."""
    targets = result.get("targets")
    keys = {"what", "figure", "target", "met"}
    if isinstance(targets, list) and all(isinstance(t, dict) and keys <= set(t) for t in targets):
        return targets
    return None


def format_figure(value, unit: str = "") -> str:
    if value is None:
        return "not measured"
    if isinstance(value, bool):
        return str(value).lower()
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return f"{text} {unit}".strip() if unit not in ("", "x", "%") else f"{text}{unit}"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def readme(results_dir: Path = RESULTS, root: Path = ROOT, as_of: str | None = None) -> str:
    """The text of ``benchmarks/README.md`` for the results in ``results_dir``, freshness as of commit ``as_of``."""
    if as_of is None:
        as_of = git(root, "rev-parse", "HEAD")[1].strip()
    lines = [
        "# Benchmark results",
        "",
        "Generated by `python benchmarks/check.py --write-readme` from `benchmarks/results/*.json`;",
        "do not edit by hand (`tests/test_benchmarks.py` checks it). How each figure is measured is",
        "in the docstring of its `benchmarks/bench_<name>.py`; the protocol (cold = fresh process with",
        "empty caches, warm = fresh process with filled caches, medians of 3) in `benchmarks/common.py`.",
        "",
        f"Freshness as of commit `{as_of}`: *fresh* means every file the result depends on is as it was",
        "when measured (Python files: apart from comments and docstrings); *stale* names what changed",
        "since; *unknown*: the result records no commit.",
        "`make benchmark-check` says the same for the tree you have.",
        "",
        "| benchmark | what | target | figure | met | measured (UTC) | commit | freshness |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(results_dir.glob("*.json")):
        result = read_result(path)
        name = path.stem
        state = freshness(result, name, root, as_of)
        if state["status"] == "stale":
            shown = ", ".join(state["changed"][:5]) + (
                f" and {len(state['changed']) - 5} more" * (len(state["changed"]) > 5)
            )
            fresh = f"stale: {shown}"
        elif state["status"] == "unknown":
            fresh = f"unknown ({state['reason']})"
        else:
            fresh = "fresh"
        commit = (result.get("commit") or "none")[:10] + (" (dirty)" if result.get("dirty_files") else "")
        when = str(result.get("measured_at", "?"))[:16].replace("T", " ")
        targets = uniform_targets(result)
        if not targets:
            targets = [{"what": result.get("what", "?"), "target": None, "figure": None, "met": None, "unit": ""}]
            first_figure = "(no targets in the uniform format)"
        else:
            first_figure = None
        for entry in targets:
            met = {True: "yes", False: "**no**", None: ""}[entry["met"]]
            figure = first_figure or format_figure(entry["figure"], entry.get("unit", ""))
            if entry.get("note"):
                figure += f" ({entry['note']})"
            row = [name, entry["what"], entry["target"] or "", figure, met, when, commit, fresh]
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def readme_is_current(readme_path: Path = README, results_dir: Path = RESULTS, root: Path = ROOT) -> str | None:
    """None when ``readme_path`` is what :func:`readme` generates for its own commit, else what is wrong."""
    if not readme_path.is_file():
        return f"{readme_path} is missing"
    text = readme_path.read_text()
    match = AS_OF.search(text)
    if not match:
        return f"{readme_path} names no commit its freshness is as of"
    if text != readme(results_dir, root, match.group(1)):
        return f"{readme_path} does not match the results: run python benchmarks/check.py --write-readme"
    return None


def check(results_dir: Path = RESULTS, root: Path = ROOT, out=sys.stdout) -> int:
    """Print every result's freshness; return 1 if a result cannot be read, else 0."""
    unreadable = 0
    counts = {"fresh": 0, "stale": 0, "unknown": 0}
    for path in sorted(results_dir.glob("*.json")):
        try:
            result = read_result(path)
        except UnreadableResult as error:
            print(f"UNREADABLE {error}", file=out)
            unreadable += 1
            continue
        state = freshness(result, path.stem, root)
        counts[state["status"]] += 1
        when = str(result.get("measured_at", "?"))[:16].replace("T", " ")
        line = f"{state['status']:7} {path.name} (measured {when}, {state['reason']})"
        if state["changed"]:
            line += f"; changed since: {', '.join(state['changed'])}"
        targets = uniform_targets(result)
        if targets is None:
            line += "; no targets in the uniform format"
        else:
            missed = [t["what"] for t in targets if t["met"] is False]
            if missed:
                line += f"; targets not met: {'; '.join(missed)}"
        print(line, file=out)
    print(
        f"{counts['fresh']} fresh, {counts['stale']} stale, {counts['unknown']} unknown"
        + (f", {unreadable} unreadable" if unreadable else ""),
        file=out,
    )
    if not unreadable and results_dir == RESULTS:
        problem = readme_is_current(README, results_dir, root)
        print(problem or "benchmarks/README.md matches the results", file=out)
    return 1 if unreadable else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of result JSONs")
    parser.add_argument("--write-readme", action="store_true", help="write benchmarks/README.md from the results")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        print(f"check.py: --results {args.results}: expected a folder of result JSONs, found none", file=sys.stderr)
        return 2
    if args.write_readme:
        try:
            text = readme(args.results)
        except UnreadableResult as error:
            print(f"check.py: {error}", file=sys.stderr)
            return 1
        partial = README.with_suffix(".md.partial")
        partial.write_text(text)
        partial.replace(README)
        print(f"wrote {README}")
        return 0
    return check(args.results)


if __name__ == "__main__":
    sys.exit(main())
