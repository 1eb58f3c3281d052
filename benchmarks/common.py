"""Shared pieces of the benchmark scripts: the measuring protocol and the result JSON.

Protocol (issue 23)
-------------------
- **Cold** means a fresh process with empty caches: a new, empty ``MNIST_ANALYSIS_CACHE_DIR``
  (results and decoded arrays), a new, empty ``NUMBA_CACHE_DIR`` (numba's compiled UMAP and
  NN-descent code) and no joblib/loky worker pools (a new process has none). Use
  :func:`fresh_runs`; never time a second call in the same process and call it cold.
- **Warm** means a fresh process with those caches filled by an earlier, untimed run: a user
  reopening a notebook. ``fresh_runs(script, warm=True)``.
- Medians of 3 (``runs=3``), every run kept (:func:`summary`, :func:`fresh_summary`).

What every result records
-------------------------
:func:`write_result` adds, to whatever the benchmark measured:

- ``benchmark``, ``measured_at``, ``machine`` (as before: old readers keep working);
- ``started_at``, ``commit`` (``git rev-parse HEAD`` when this module was imported, i.e. when
  the benchmark started), ``dirty`` (any uncommitted change to tracked files), ``dirty_files``
  (each changed or untracked file under ``mnist_analysis/``, ``notebooks/``, ``benchmarks/``
  and ``pyproject.toml`` with the git blob hash of its content then, ``null`` when deleted), and
  ``code_changed_during_run`` (files under those folders whose content differed at the end);
- ``script`` (the benchmark script, relative to the repository) and ``depends_on`` (the files
  whose change makes the result stale), by default :func:`measured_code`: the package modules
  the benchmark's processes imported (each fresh run reports its ``sys.modules``; the
  benchmark's own process counts too), the notebooks it runs and the modules their cells
  import, closed over every import the package's code can reach (:func:`package_closure`,
  imports inside functions included), with the package's data files, ``pyproject.toml``,
  ``benchmarks/common.py`` and the script. A benchmark may pass its own list as
  ``result["depends_on"]``, or name the notebooks it runs in ``result["notebooks_run"]`` and
  package modules its other processes run (a command line, say) in ``result["modules_run"]``;
- ``libraries``: the installed version of every dependency of the project, plus numba,
  llvmlite, pynndescent, scipy and threadpoolctl;
- ``load``: ``os.getloadavg()`` and the CPU percent of the whole machine (psutil, sampled for
  0.5 s) at the start (when this module is imported) and at the end, and the machine's
  average CPU percent over the run;
- ``yardstick``: a plain gzip decode of both MNIST image files timed in the same run
  (:func:`gzip_decode_seconds`); when ``result`` has no ``yardstick`` key, one is timed when the
  result is written.

Targets and headline figures
----------------------------
Every result carries ``targets``: a list with one entry per target or headline figure, made
with :func:`target`, so that ``benchmarks/README.md`` can be generated from the JSONs
(``python benchmarks/check.py --write-readme``)::

    {"what": "cold build, median of 3 fresh processes", "figure": 459.4, "unit": "s",
     "target": "<= 180", "met": false, "note": "..."}

``figure`` is a number, or ``null`` when it was not measured in this run (then say why in
``note`` and set ``met`` to ``null``); ``target`` is a short text (``"<= 180"``, ``">= 2.5"``)
or ``null`` for a figure shown without a target; ``met`` is true, false or null (no target or
not measured). :func:`write_result` refuses a ``targets`` value in any other shape.

After writing a result, regenerate ``benchmarks/README.md`` (``python benchmarks/check.py
--write-readme``); ``tests/test_benchmarks.py`` fails while the README and the JSONs disagree.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
#: Folders (and files) whose uncommitted changes a result lists by name.
WATCHED = ("mnist_analysis", "notebooks", "benchmarks", "pyproject.toml")
#: Installed beyond the project's declared dependencies, and what the numbers depend on.
EXTRA_LIBRARIES = ("numba", "llvmlite", "pynndescent", "scipy", "threadpoolctl")
#: Environment variables that hold caches: fresh_runs sets them, a caller's ``env`` may not.
CACHE_VARIABLES = ("MNIST_ANALYSIS_CACHE_DIR", "NUMBA_CACHE_DIR")
TARGET_KEYS = {"what", "figure", "target", "met"}
PACKAGE = "mnist_analysis"
#: Package modules imported by the fresh runs so far (each child reports its ``sys.modules``).
_CHILD_MODULES: set[str] = set()
#: Put at the top of every fresh run's script (after any ``from __future__`` line): at exit the
#: child appends the names of the package modules it imported to the file the parent names.
_CHILD_PREAMBLE = (
    "import atexit as _bench_atexit, os as _bench_os, sys as _bench_sys; "
    "_bench_atexit.register(lambda path=_bench_os.environ.get('MNIST_BENCH_MODULES_FILE'): path and "
    "open(path, 'a').write(''.join(m + '\\n' for m in list(_bench_sys.modules) "
    f"if m == {PACKAGE!r} or m.startswith({PACKAGE + '.'!r}))))\n"
)


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


def blob_hashes(paths: list[str]) -> dict[str, str | None]:
    """Git blob hash of each file's current content (``None`` for a missing file), paths relative to the repository."""
    existing = [p for p in paths if (ROOT / p).is_file()]
    hashes = dict.fromkeys(paths)
    if existing:
        done = subprocess.run(
            ["git", "hash-object", "--stdin-paths"],
            cwd=ROOT,
            input="\n".join(existing) + "\n",
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            hashes.update(zip(existing, done.stdout.split()))
    return hashes


def code_state() -> dict:
    """The commit checked out, whether the tree is dirty, and the changed files under :data:`WATCHED`."""
    commit = _git("rev-parse", "HEAD").strip() or None
    changed = []
    for line in _git("status", "--porcelain", "--untracked-files=all", "--", *WATCHED).splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if not path.startswith("benchmarks/results/") and "__pycache__" not in path:
            changed.append(path)
    return {
        "commit": commit,
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no").strip()) if commit else None,
        "dirty_files": blob_hashes(sorted(changed)),
    }


def machine_load(sample_s: float = 0.5) -> dict:
    """Load averages and the whole machine's CPU percent over ``sample_s`` seconds."""
    import psutil

    return {
        "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "load_average": list(os.getloadavg()),
        "cpu_percent": psutil.cpu_percent(interval=sample_s),
    }


def _cpu_times():
    import psutil

    return psutil.cpu_times()


# The benchmark starts when it imports this module: its code and the machine's load then.
_START = {"perf": time.perf_counter(), "code": code_state(), "load": machine_load(), "cpu_times": _cpu_times()}


def library_versions() -> dict[str, str | None]:
    """Installed version of each of the project's dependencies and of :data:`EXTRA_LIBRARIES`."""
    try:
        requirements = importlib.metadata.requires("mnist-analysis") or []
    except importlib.metadata.PackageNotFoundError:
        requirements = []
    names = [re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0] for r in requirements if "extra ==" not in r]
    versions = {}
    for name in sorted({*names, *EXTRA_LIBRARIES}, key=str.lower):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def time_runs(function, runs: int, setup=None) -> list[float]:
    """Call ``setup()`` (untimed, if given) then ``function()`` ``runs`` times; return the seconds of each call.

    In-process timings are warm by nature (imports, compiled code, pools): use them for what
    is warm in a user's session too, and :func:`fresh_runs` for anything called cold.
    """
    seconds = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return seconds


def summary(seconds: list[float]) -> dict:
    """Median, min and max of a list of timings, with the raw runs."""
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "runs": len(seconds),
        "all_s": seconds,
    }


def new_caches(folder: Path) -> dict[str, str]:
    """Create empty cache folders under ``folder``; return the environment variables that point at them."""
    env = {}
    for variable in CACHE_VARIABLES:
        path = Path(folder) / variable.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[variable] = str(path)
    return env


def _run_child(script: str, env: dict, timeout: float | None) -> dict:
    import resource

    def cpu():
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mnist-bench-modules-") as folder:
        modules_file = Path(folder) / "modules.txt"
        cpu_before, start = cpu(), time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-c", _with_preamble(script)],
                cwd=ROOT,
                env={**env, "MNIST_BENCH_MODULES_FILE": str(modules_file)},
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"fresh run did not finish within {timeout} s") from error
        seconds, cpu_s = time.perf_counter() - start, cpu() - cpu_before
        if modules_file.is_file():
            _CHILD_MODULES.update(modules_file.read_text().split())
    if done.returncode:
        raise RuntimeError(f"fresh run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError) as error:
        raise RuntimeError(
            f"fresh run printed no JSON object as its last stdout line; stdout ended with {lines[-3:]!r}"
        ) from error
    if not isinstance(result, dict):
        raise RuntimeError(f"fresh run's last stdout line is not a JSON object: {lines[-1][:200]!r}")
    return {**result, "process_s": seconds, "process_cpu_s": cpu_s, "load_1min_before": load}


def _with_preamble(script: str) -> str:
    """``script`` with :data:`_CHILD_PREAMBLE` after its leading ``from __future__`` imports, if any."""
    lines = script.lstrip("\n").splitlines(keepends=True)
    position = 0
    while position < len(lines) and lines[position].startswith("from __future__ import"):
        position += 1
    return "".join([*lines[:position], _CHILD_PREAMBLE, *lines[position:]])


def fresh_runs(
    script: str, runs: int = 3, warm: bool = False, env: dict | None = None, timeout: float | None = None
) -> list[dict]:
    """Run ``script`` with ``sys.executable -c`` in a new process ``runs`` times; return each run's JSON.

    Cold (``warm=False``): every run gets a new, empty ``MNIST_ANALYSIS_CACHE_DIR`` and
    ``NUMBA_CACHE_DIR``; being a new process it has no imported modules, compiled code or
    worker pools. Warm (``warm=True``): one untimed priming run fills a cache folder, then
    each timed run is a new process reusing those filled caches (a user reopening a notebook).

    The child prints one JSON object as its last stdout line (its own timings). Each returned
    dict is that object plus ``process_s`` (wall-clock seconds of the whole process, start-up
    and imports included), ``process_cpu_s`` (CPU seconds of the process and the children it
    waited for) and ``load_1min_before`` (the 1-minute load average when it started).
    The environment is this process's, updated with ``env`` (``MNIST_ANALYSIS_DATA_DIR``
    passes through); the cache variables are always fresh_runs' own. The working directory is
    the repository. A failed or timed-out run raises ``RuntimeError`` with its stderr's end.

    Examples
    --------
    >>> runs = fresh_runs("import json; print(json.dumps({'x': 1}))", runs=1)  # doctest: +SKIP
    >>> runs[0]["x"], runs[0]["process_s"] > 0  # doctest: +SKIP
    (1, True)
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    clash = sorted(set(env or {}) & set(CACHE_VARIABLES))
    if clash:
        raise ValueError(f"env may not set {', '.join(clash)}: fresh_runs gives each run its own caches")
    base = Path(tempfile.mkdtemp(prefix="mnist-bench-fresh-"))
    child_env = {**os.environ, **(env or {})}
    try:
        if warm:
            caches = new_caches(base / "warm")
            _run_child(script, {**child_env, **caches}, timeout)  # priming run, untimed
            return [_run_child(script, {**child_env, **caches}, timeout) for _ in range(runs)]
        return [_run_child(script, {**child_env, **new_caches(base / f"cold-{i}")}, timeout) for i in range(runs)]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def fresh_summary(results: list[dict], key: str = "process_s") -> dict:
    """:func:`summary` of ``key`` over the dicts :func:`fresh_runs` returned (median, min, max, all)."""
    missing = [i for i, r in enumerate(results) if not isinstance(r.get(key), (int, float))]
    if missing:
        raise KeyError(f"runs {missing} have no number under {key!r}")
    return summary([float(r[key]) for r in results])


def target(
    what: str,
    figure: float | None,
    *,
    at_most: float | None = None,
    at_least: float | None = None,
    unit: str = "",
    met: bool | None = None,
    note: str | None = None,
) -> dict:
    """One entry of a result's ``targets`` list: a headline ``figure`` and, if any, its target.

    ``at_most``/``at_least`` give a numeric target and ``met`` is computed; otherwise ``met``
    may be given (a target that is not a number, e.g. "same findings"). A ``figure`` of
    ``None`` means not measured in this run: ``met`` is then ``None``; say why in ``note``.

    Examples
    --------
    >>> target("cold build", 459.4, at_most=180, unit="s")["met"]
    False
    >>> target("warm load", None, at_most=0.05, unit="s", note="not re-run")["met"] is None
    True
    """
    text = None
    if at_most is not None:
        text = f"<= {at_most:g}"
        if figure is not None:
            met = bool(figure <= at_most)
    elif at_least is not None:
        text = f">= {at_least:g}"
        if figure is not None:
            met = bool(figure >= at_least)
    if figure is None:
        met = None
    entry = {"what": what, "figure": figure, "unit": unit, "target": text, "met": met}
    if note:
        entry["note"] = note
    return entry


def check_targets(targets) -> None:
    """Raise ``ValueError`` unless ``targets`` is a list of :func:`target` entries."""
    if not isinstance(targets, list):
        raise ValueError(f"targets must be a list of target(...) entries, got {type(targets).__name__}")
    for i, entry in enumerate(targets):
        if not isinstance(entry, dict) or not set(entry) >= TARGET_KEYS:
            raise ValueError(f"targets[{i}] must be a dict with keys {sorted(TARGET_KEYS)}, got {entry!r}")
        if entry["figure"] is not None and not isinstance(entry["figure"], (int, float)):
            raise ValueError(f"targets[{i}]['figure'] must be a number or null, got {entry['figure']!r}")
        if entry["met"] not in (True, False, None):
            raise ValueError(f"targets[{i}]['met'] must be true, false or null, got {entry['met']!r}")


def gzip_decode_seconds(runs: int = 5) -> dict:
    """Time a plain gzip decode of both MNIST image files: the same-run yardstick of machine speed.

    It is what a plain loader does on every load (0.17 s on these 2-core machines when they
    were quiet in December 2026); a benchmark that reports it beside its own timings shows how
    busy the machine was during that run.
    """
    import gzip

    from mnist_analysis.data.registry import REGISTRY
    from mnist_analysis.data.sources import locate

    sources = [locate(REGISTRY[k]).path for k in ("train-images", "test-images")]

    def decode():
        return [len(gzip.decompress(p.read_bytes())) for p in sources]

    return summary(time_runs(decode, runs))


def yardstick() -> dict:
    """The same-run yardstick with what it is, or the error that prevented it."""
    entry = {"what": "plain gzip decode of both MNIST image files (about 0.43 s on a quiet machine)"}
    try:
        entry["gzip_decode"] = gzip_decode_seconds()
    except Exception as error:  # a result is still written, saying why it has no yardstick
        entry["error"] = f"{type(error).__name__}: {error}"
    return entry


def machine() -> dict:
    """What the numbers were measured on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }


def _script() -> str | None:
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if not main:
        return None
    path = Path(main).resolve()
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def provenance(result: dict) -> dict:
    """Commit, dirty files, libraries, load, dependencies and yardstick of the run now ending."""
    end_code = code_state()
    start_code = _START["code"]
    watched_now = blob_hashes(sorted(set(start_code["dirty_files"]) | set(end_code["dirty_files"])))
    changed_during = sorted(
        path
        for path in watched_now
        if watched_now[path] != start_code["dirty_files"].get(path, _committed_blob(start_code["commit"], path))
    )
    if end_code["commit"] != start_code["commit"]:
        changed_during.append(f"(HEAD moved from {start_code['commit']} to {end_code['commit']})")
    script = _script()
    cpu_end = _cpu_times()
    busy_fields = ("user", "nice", "system", "irq", "softirq", "steal")

    def spent(fields):
        return sum(getattr(cpu_end, f, 0) - getattr(_START["cpu_times"], f, 0) for f in fields)

    busy, total = spent(busy_fields), spent((*busy_fields, "idle", "iowait"))
    if "depends_on" in result:
        depends = result["depends_on"]
    else:
        depends = measured_code(result.get("notebooks_run", ()), extra_modules=result.get("modules_run", ()))
        if script and not script.startswith("/"):
            depends.append(script)
    return {
        "started_at": _START["load"]["at"],
        "duration_s": time.perf_counter() - _START["perf"],
        **start_code,
        "code_changed_during_run": changed_during,
        "script": script,
        "depends_on": depends,
        "libraries": library_versions(),
        "load": {
            "start": _START["load"],
            "end": machine_load(),
            "cpu_percent_over_run": 100 * busy / total if total > 0 else None,
        },
    }


def _module_file(root: Path, module: str) -> Path | None:
    path = root.joinpath(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imports_of(source: str, module: str, is_package: bool) -> set[str]:
    """Every package module name ``source`` may import: import statements anywhere (inside
    functions too, absolute or relative) and string literals naming a package module (lazy
    ``importlib.import_module`` maps)."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(rf"{PACKAGE}(\.\w+)+", node.value)
        ):
            names.add(node.value)
    return {n for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")}


def package_closure(modules, root: Path = ROOT) -> list[str]:
    """Files of the package modules ``modules`` and of everything they can import, relative to ``root``.

    Follows import statements at any depth (inside functions too) and the parent packages
    of each module (importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py``).
    Names that are not modules of the package (``from mnist_analysis import load_frame``)
    are skipped. An over-estimate of the code that ran, never an under-estimate.

    Examples
    --------
    >>> "mnist_analysis/__init__.py" in package_closure(["mnist_analysis.data.idx"])  # doctest: +SKIP
    True
    """
    pending, seen, files = list(modules), set(), set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        path = _module_file(root, module)
        if path is None:
            continue
        files.add(path.relative_to(root).as_posix())
        pending.extend(_imports_of(path.read_text(), module, path.name == "__init__.py") - seen)
    return sorted(files)


def notebook_imports(path: Path) -> set[str]:
    """Package modules the code cells of the notebook at ``path`` import."""
    notebook = json.loads(Path(path).read_text())
    names = set()
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            source = "".join(cell.get("source", []))
            code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
            names |= _imports_of(code, "__main__", False)
    return names


def measured_code(notebooks_run=(), root: Path = ROOT, modules=None, extra_modules=()) -> list[str]:
    """The files a result measured: see the module docstring (``depends_on``).

    ``modules`` defaults to the package modules the fresh runs and this process imported;
    ``extra_modules`` adds the ones other processes ran.
    """
    if modules is None:
        modules = _CHILD_MODULES | {m for m in list(sys.modules) if m == PACKAGE or m.startswith(PACKAGE + ".")}
    modules = set(modules) | set(extra_modules)
    notebooks = [Path(n) if Path(n).is_absolute() else root / n for n in notebooks_run]
    for notebook in notebooks:
        modules |= notebook_imports(notebook)
    data_files = [
        p.relative_to(root).as_posix()
        for p in (root / PACKAGE).rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    notebook_files = [n.relative_to(root).as_posix() for n in notebooks]
    return sorted(
        {*package_closure(modules, root), *data_files, *notebook_files, "pyproject.toml", "benchmarks/common.py"}
    )


def _committed_blob(commit: str | None, path: str) -> str | None:
    if not commit:
        return None
    line = _git("ls-tree", commit, "--", path).split()
    return line[2] if len(line) >= 3 else None


def write_result(name: str, result: dict) -> Path:
    """Write ``result`` with its provenance to ``benchmarks/results/<name>.json`` and return the path.

    Adds the time and machine (as always), then what :func:`provenance` records (commit, dirty
    files, libraries, load at start and end, dependencies) and, when ``result`` has no
    ``yardstick`` key, the same-run yardstick timed now. ``result["targets"]``, when present,
    must be a list of :func:`target` entries. The file is replaced atomically.
    """
    if "targets" in result:
        check_targets(result["targets"])
    extra = {} if "yardstick" in result else {"yardstick": yardstick()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        **provenance(result),
        **result,
        **extra,
    }
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(payload, indent=2) + "\n")
    partial.replace(path)
    return path
