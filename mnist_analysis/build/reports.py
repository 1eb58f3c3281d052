"""Execute the notebooks with papermill and write self-contained HTML reports plus an index page.

For each ``notebooks/NN_name.ipynb`` the build writes ``reports/NN_name.ipynb`` (the executed
notebook) and ``reports/NN_name.html``. Notebooks execute in a hidden staging folder
(``reports/.build-<pid>-*``); a report replaces the previous one only once it is complete, and
``index.html`` only at the end, so a killed build leaves the previous reports and index as they
were and nothing half-written at a final path. A notebook that fails keeps its last good
report, which the index marks as out of date, naming the failing cell and the error; the failed
executed notebook is kept as ``reports/NN_name.failed.ipynb``. When the notebooks that the
datasheet quotes all ran, ``reports/datasheet.md`` and ``.html`` are written from them
(:mod:`mnist_analysis.build.datasheet`) and linked from the index.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..findings import read_findings
from ..utils import DiskFullError, atomic_write_bytes, is_disk_full, sha256_of_file, staging_folder
from .pages import TEMPLATES
from .report_index import index_html

#: What ``--quick`` passes to every notebook: a small stratified sample, for tests.
QUICK_PARAMETERS = {"sample_size": 2000}
#: The smallest ``sample_size`` the command line accepts: every shipped notebook (00-07) ran with
#: 500 images; with 200, 06 (a class with too few rows for its neighbourhoods) and 07 (no slice of
#: 20 digits) fail, with 100 also 03 and 04 (PCA with 100 components on 87 training rows).
MIN_SAMPLE_SIZE = 500
KERNEL_NAME = "python3"


class ReportError(RuntimeError):
    """One or more notebooks failed; the message names each notebook and cell."""


@dataclass
class NotebookResult:
    """The outcome of rendering one notebook."""

    notebook: Path
    title: str
    html: Path | None = None
    executed: Path | None = None
    error: str | None = None
    seconds: float = 0.0
    parameters: dict = field(default_factory=dict)
    findings: list = field(default_factory=list)
    thumbnail: str | None = None  #: base64 PNG of the figure tagged ``thumbnail`` (else the first figure)
    previous_html: Path | None = None  #: after a failure, the last good report, kept but out of date
    reused: str | None = None  #: "outputs from <time>, code unchanged" when the execution cache served them
    peak_bytes: int | None = None  #: largest resident memory of the kernel and its worker processes, when executed
    earlier: str | None = None  #: for a report this build did not render (``--only``): when it was rendered


def find_notebooks(folder, only=None) -> list[Path]:
    """Return the ``.ipynb`` files of ``folder`` in name order, or those whose stem is in ``only``."""
    folder = Path(folder)
    if folder.is_file():
        raise NotADirectoryError(
            f"notebooks folder {folder}: is a file, expected a folder of .ipynb notebooks; pass the folder holding it"
        )
    if not folder.is_dir():
        raise FileNotFoundError(f"notebooks folder {folder}: not found; run from the project root or pass --notebooks")
    notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if only:
        wanted = {Path(name).stem for name in only}
        missing = wanted - {p.stem for p in notebooks}
        if missing:
            raise FileNotFoundError(
                f"--only: no notebook named {', '.join(sorted(missing))} in {folder}; "
                f"found {', '.join(p.stem for p in notebooks) or 'none'}"
            )
        notebooks = [p for p in notebooks if p.stem in wanted]
    return notebooks


def checked_notebooks(folder, only=None) -> list[Path]:
    """:func:`find_notebooks`, refusing an empty selection and any notebook that is not a readable Jupyter notebook.

    Run before anything is executed or replaced, so a bad notebook is named at once instead of
    failing in the middle of a build.
    """
    import nbformat

    notebooks = find_notebooks(folder, only)
    if not notebooks:
        raise FileNotFoundError(
            f"notebooks folder {folder}: holds no .ipynb notebooks; pass the folder of the notebooks to render"
        )
    for notebook in notebooks:
        try:
            node = nbformat.read(notebook, as_version=4)
        except OSError as error:
            raise OSError(f"notebook {notebook}: cannot be read ({error.strerror or error})") from None
        except Exception as error:  # nbformat's NotJSONError, UnicodeDecodeError, a bad structure...
            reason = " ".join(str(error).split())[:160]
            raise ValueError(f"notebook {notebook}: not a Jupyter notebook ({reason})") from None
        if not isinstance(node.get("cells"), list):
            raise ValueError(f"notebook {notebook}: not a Jupyter notebook (no list of cells)")
    return notebooks


def check_output_outside(notebooks_dir, output_dir, name: str = "output_dir") -> None:
    """Refuse an output folder that is the notebooks folder or lies inside it.

    The build writes executed copies named like the sources (``NN_name.ipynb``), so such an
    output would overwrite the source notebooks with executed ones.

    Examples
    --------
    >>> check_output_outside("notebooks", "notebooks/reports")
    Traceback (most recent call last):
    ...
    ValueError: output_dir: notebooks/reports is inside the notebooks folder notebooks; the executed copies ...
    """
    source, output = Path(notebooks_dir).expanduser().resolve(), Path(output_dir).expanduser().resolve()
    if output == source or source in output.parents:
        where = "is the notebooks folder" if output == source else f"is inside the notebooks folder {notebooks_dir}"
        raise ValueError(
            f"{name}: {output_dir} {where}; the executed copies would overwrite or mix with the source "
            "notebooks: choose a folder outside it"
        )


def notebook_title(node) -> str:
    """The text of the notebook's first ``# `` heading, or an empty string."""
    for cell in node.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def thumbnail(node) -> str | None:
    """The base64 PNG of the first figure in a cell tagged ``thumbnail``, else of the first figure."""
    figures = [
        (("thumbnail" in cell.metadata.get("tags", [])), output["data"]["image/png"])
        for cell in node.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    tagged = [png for is_tagged, png in figures if is_tagged]
    return (tagged or [png for _, png in figures] or [None])[0]


def _failure_message(notebook: Path, executed: Path, error) -> str:
    """Name the notebook and the failing cell as the user sees it in ``notebook`` (not the executed copy)."""
    import nbformat
    import papermill

    if not isinstance(error, papermill.PapermillExecutionError):
        return f"{notebook.name}: {error.__class__.__name__}: {error}"
    cells = nbformat.read(executed, as_version=4).cells
    injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.metadata.get("tags", [])]
    index = error.cell_index - sum(1 for i in injected if i < error.cell_index)
    first_line = error.source.strip().splitlines()[0] if error.source.strip() else ""
    return (
        f"{notebook.name}: cell {index} (counting from 0; execution count {error.exec_count}; "
        f"starts {first_line[:60]!r}) raised {error.ename}: {error.evalue}. "
        f"The executed notebook with the traceback is {executed}"
    )


#: Name prefix of the hidden folder in the output folder where notebooks execute.
STAGING_PREFIX = ".build-"

#: Process ids of the kernels running for this process's builds, so Ctrl-C can stop them at once.
_RUNNING_KERNELS: set = set()
#: Set on Ctrl-C: kernels that start after it are killed, and stopped notebooks leave no files behind.
_STOPPING = threading.Event()


def stop_kernels() -> int:
    """Kill every kernel this process's builds are running (with the processes it started); return how many.

    Called on Ctrl-C, so that a build stops within a second or two instead of waiting for its notebooks.
    """
    import psutil

    _STOPPING.set()
    stopped = 0
    for pid in list(_RUNNING_KERNELS):
        try:
            kernel = psutil.Process(pid)
            tree = [*kernel.children(recursive=True), kernel]
        except psutil.Error:
            continue
        for process in tree:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(tree, timeout=2)
        stopped += 1
    return stopped


def _ipc_kernel_manager(folder: str, on_start=None):
    """Kernels that talk over Unix sockets in ``folder``: no TCP ports, no transport warning.

    ``on_start(pid)`` is called with the kernel's process id once it runs.
    """
    from jupyter_client.manager import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **options):
            super().__init__(**{"transport": "ipc", "ip": os.path.join(folder, "kernel"), **options})

        async def _async_post_start_kernel(self, **options):
            await super()._async_post_start_kernel(**options)
            if on_start is not None:
                on_start(self.provisioner.pid)

    return IpcKernelManager


def _execute(notebook: Path, staged: Path, parameters: dict, reuse: bool, on_cell=None, memory=None):
    """Run ``notebook`` into ``staged`` unless the execution cache has its outputs; return the reuse note.

    ``memory`` (a :class:`mnist_analysis.build.schedule.PeakMemory`) is told the kernel's
    process id when one starts.
    """
    import nbformat
    import papermill

    from . import execution_cache

    source = nbformat.read(notebook, as_version=4)
    inputs = execution_cache.notebook_inputs(source, parameters)
    found = execution_cache.lookup(source, inputs, str(notebook)) if reuse else None
    if found is not None:
        _write_stored_run(found[0], staged, parameters)
        return execution_cache.describe_reuse(found[1])
    import shutil
    import tempfile

    extra = {"on_cell_complete": on_cell} if on_cell is not None else {}
    sockets = tempfile.mkdtemp(prefix="mnist-kernel-")  # short: a socket path has at most 107 characters
    started = []

    def on_start(pid: int) -> None:
        started.append(pid)
        _RUNNING_KERNELS.add(pid)
        if _STOPPING.is_set():  # started just after Ctrl-C
            stop_kernels()
        if memory is not None:
            memory.watch(pid)

    try:
        with _static_explorers():
            papermill.execute_notebook(
                str(notebook),
                str(staged),
                parameters=parameters,
                kernel_name=KERNEL_NAME,
                cwd=str(notebook.parent),
                progress_bar=False,
                log_output=False,
                kernel_manager_class=_ipc_kernel_manager(sockets, on_start),
                **extra,
            )
    finally:
        _RUNNING_KERNELS.difference_update(started)
        shutil.rmtree(sockets, ignore_errors=True)
    if execution_cache.store(source, nbformat.read(staged, as_version=4), inputs, str(notebook)):
        # The report shows the run as stored, exactly as a later build reusing it would: byte for byte
        # the same executed notebook, so that build finds the report current and need not render it.
        stored = execution_cache.lookup(source, inputs, str(notebook))
        if stored is not None:
            _write_stored_run(stored[0], staged, parameters)
    return None


def _write_stored_run(merged, staged: Path, parameters: dict) -> None:
    """Write a stored run into ``staged`` with the parameters cell that a run with ``parameters`` shows."""
    import nbformat
    import papermill

    nbformat.write(merged, staged)
    # Loaded the way papermill loads a notebook, then given the same parameters cell a run would show.
    merged = papermill.iorw.load_notebook_node(str(staged))
    merged = papermill.parameterize.parameterize_notebook(merged, parameters, kernel_name=KERNEL_NAME)
    for cell in merged.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"  # papermill draws a random id: same run, same bytes
    nbformat.write(merged, staged)


def render_notebook(
    notebook, output_dir, parameters=None, *, hide_code: bool = False, staging=None, reuse: bool = True, on_cell=None
) -> NotebookResult:
    """Execute ``notebook`` with ``parameters``; write its executed copy and HTML into ``output_dir``.

    The notebook executes in ``staging`` (default: a fresh hidden folder in ``output_dir``);
    the HTML and the executed notebook replace the previous ones only once complete.
    Returns a :class:`NotebookResult`; a failure is recorded in ``result.error`` (naming the
    notebook and the cell) rather than raised, so that a build can report every notebook. The
    previous report is then kept, and named in ``result.previous_html``.

    With ``reuse``, a notebook whose code cells, parameters, helper code and libraries are
    unchanged since a successful run is not executed: its stored outputs are merged into it
    (:mod:`mnist_analysis.build.execution_cache`) and ``result.reused`` says from when.
    ``on_cell(cell=..., cell_index=...)`` is called after each executed cell (for progress).
    """
    if staging is None:
        with staging_folder(output_dir, STAGING_PREFIX) as staging:
            return render_notebook(
                notebook, output_dir, parameters, hide_code=hide_code, staging=staging, reuse=reuse, on_cell=on_cell
            )
    import time

    import nbformat
    from nbconvert import HTMLExporter

    from .schedule import PeakMemory

    notebook, output_dir = Path(notebook), Path(output_dir)
    html_path, executed = output_dir / f"{notebook.stem}.html", output_dir / notebook.name
    staged, failed_copy = Path(staging) / notebook.name, output_dir / f"{notebook.stem}.failed.ipynb"
    result = NotebookResult(
        notebook, notebook_title(nbformat.read(notebook, as_version=4)), parameters=dict(parameters or {})
    )
    start = time.perf_counter()
    memory = PeakMemory()
    try:
        try:
            result.reused = _execute(notebook, staged, result.parameters, reuse, on_cell, memory)
        finally:
            result.peak_bytes = memory.stop()
        record = _render_record(staged, hide_code)
        current = _current_report(output_dir, notebook.stem, record) if result.reused else None
        if current is not None:
            # Reused outputs and an unchanged notebook: the report on disk is exactly what a render would write.
            result.findings, result.thumbnail = current["findings"], current.get("thumbnail")
            failed_copy.unlink(missing_ok=True)
            result.html, result.executed = html_path, executed
            result.seconds = time.perf_counter() - start
            return result
        node = nbformat.read(staged, as_version=4)
        node.metadata.pop("widgets", None)  # widget state needs a CDN loader: keep each output's static form
        node.cells = [cell for cell in node.cells if not _empty_injected_parameters(cell)]
        result.findings, result.thumbnail = read_findings(node), thumbnail(node)
        node.metadata["title"] = result.title or notebook.stem  # the page's <title>
        exporter = HTMLExporter(
            extra_template_basedirs=[str(TEMPLATES)],
            template_name="mnist_report",
            embed_images=True,
            exclude_input=hide_code,
        )
        body, _ = exporter.from_notebook_node(node)
        html_bytes = body.encode("utf-8")
        atomic_write_bytes(html_path, html_bytes)
        os.replace(staged, executed)
        record.update(
            findings=result.findings,
            thumbnail=result.thumbnail,
            html_sha256=_sha256(html_bytes),
            title=result.title,
            rendered_at=time.time(),
        )
        _write_render_record(output_dir, notebook.stem, record)
        failed_copy.unlink(missing_ok=True)
        result.html, result.executed = html_path, executed
    except Exception as error:  # recorded and re-raised by build_reports as one ReportError
        if _STOPPING.is_set():  # stopped by Ctrl-C: the staging folder goes, nothing else is touched
            result.error = f"{notebook.name}: interrupted"
            return result
        if is_disk_full(error):  # the executed copy is truncated: keep nothing of it
            staged.unlink(missing_ok=True)
            result.error = f"{notebook.name}: {DiskFullError(output_dir)}"
            result.previous_html = html_path if html_path.is_file() else None
            result.seconds = time.perf_counter() - start
            return result
        if staged.is_file():
            os.replace(staged, failed_copy)
        result.error = _failure_message(notebook, failed_copy, error)
        result.previous_html = html_path if html_path.is_file() else None
    result.seconds = time.perf_counter() - start
    return result


def _empty_injected_parameters(cell) -> bool:
    """True for papermill's injected parameters cell when it sets nothing (only its ``# Parameters`` comment).

    A build with default parameters would otherwise show that empty cell at the top of every page.
    """
    if "injected-parameters" not in cell.metadata.get("tags", []):
        return False
    return all(not line.strip() or line.lstrip().startswith("#") for line in cell.source.splitlines())


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _render_record(staged: Path, hide_code: bool) -> dict:
    """What a report's HTML depends on: the executed notebook's bytes and how it is rendered.

    How: this module's source, the templates, ``hide_code``, and the versions of nbconvert and
    every library it requires (the Markdown, highlighting and sanitising libraries among them).
    """
    from ..caching.fingerprints import library_versions

    templates = sorted(p for p in (TEMPLATES / "mnist_report").rglob("*") if p.is_file())
    how = [str(hide_code), sha256_of_file(__file__)]
    how += [f"{name}=={version}" for name, version in library_versions({"nbconvert"}).items()]
    how += [f"{p.relative_to(TEMPLATES)}:{sha256_of_file(p)}" for p in templates]
    return {"executed_sha256": sha256_of_file(staged), "rendered_by": _sha256("\n".join(how).encode())}


def _record_path(output_dir: Path, stem: str) -> Path:
    return output_dir / f".{stem}.render.json"


def _write_render_record(output_dir: Path, stem: str, record: dict) -> None:
    import json

    atomic_write_bytes(_record_path(output_dir, stem), json.dumps(record).encode())


def _current_report(output_dir: Path, stem: str, record: dict) -> dict | None:
    """The stored record of the report on disk if it was rendered from the same executed notebook
    in the same way and is intact, else None.

    Both the HTML and the executed notebook are hashed again, so a report edited or damaged
    since it was written is rendered anew.
    """
    import json

    try:
        stored = json.loads(_record_path(output_dir, stem).read_text())
        html = (output_dir / f"{stem}.html").read_bytes()
        executed = (output_dir / f"{stem}.ipynb").read_bytes()
    except (OSError, ValueError):
        return None
    current = (
        isinstance(stored, dict)
        and all(stored.get(k) == record[k] for k in ("executed_sha256", "rendered_by"))
        and stored.get("html_sha256") == _sha256(html)
        and _sha256(executed) == record["executed_sha256"]
        and isinstance(stored.get("findings"), list)
    )
    return stored if current else None


@contextlib.contextmanager
def _static_explorers():
    """Have the kernels render explorers as self-contained HTML instead of JupyterLab widgets."""
    from ..locations import STATIC_ENV

    saved = os.environ.get(STATIC_ENV)
    os.environ[STATIC_ENV] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(STATIC_ENV, None)
        else:
            os.environ[STATIC_ENV] = saved


@contextlib.contextmanager
def _absolute_path_settings():
    """Make relative data and cache folder settings absolute while kernels run in other folders."""
    from ..caching.cache import CACHE_ENV
    from ..data.sources import DATA_DIR_ENV

    saved = {name: os.environ.get(name) for name in (DATA_DIR_ENV, CACHE_ENV)}
    for name, value in saved.items():
        if value:
            os.environ[name] = str(Path(value).expanduser().resolve())
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def verify_data(log=print) -> list:
    """Make sure every registered data file is at hand and verified; return ``(DataFile, Located)`` pairs.

    A file is downloaded if needed and hashed unless it is unchanged since its decoded cache was
    verified from it (:func:`mnist_analysis.data.sources.ensure_verified`). Run before any notebook,
    so that a missing or bad file stops the build with the loader's own error instead of
    failing inside every notebook.
    """
    from ..data.registry import REGISTRY
    from ..data.sources import ensure_verified

    verified = [(spec, ensure_verified(key)) for key, spec in REGISTRY.items()]
    log(f"verified {len(verified)} data files")
    return verified


def check_parameters(parameters: dict) -> dict:
    """Check the notebook parameters of a build before anything runs or is replaced; return them.

    ``sample_size`` must be None or from 1 to the number of MNIST images (a notebook cannot
    sample more images than there are, and must not claim to); ``seed`` a valid random seed.

    Examples
    --------
    >>> check_parameters({"sample_size": 0})
    Traceback (most recent call last):
    ...
    ValueError: sample_size: expected a positive integer or None, found 0
    """
    from ..data.loaders import N_IMAGES
    from ..validation import positive_int, seed

    checked = dict(parameters)
    if "sample_size" in checked:
        checked["sample_size"] = positive_int(checked["sample_size"], "sample_size", allow_none=True, maximum=N_IMAGES)
    if "seed" in checked:
        checked["seed"] = seed(checked["seed"])
    return checked


def _earlier_reports(notebooks_dir, output_dir: Path, rendered: list) -> list:
    """Results for the reports on disk of notebooks this build did not render (``only``), when intact.

    So that a partial build keeps every report on the index, each marked with when it was rendered.
    """
    import datetime as dt
    import json

    import nbformat

    done = {r.notebook.name for r in rendered}
    earlier = []
    for notebook in find_notebooks(notebooks_dir):
        if notebook.name in done:
            continue
        html_path = output_dir / f"{notebook.stem}.html"
        try:
            stored = json.loads(_record_path(output_dir, notebook.stem).read_text())
            intact = isinstance(stored, dict) and stored.get("html_sha256") == sha256_of_file(html_path)
            title = stored.get("title") or notebook_title(nbformat.read(notebook, as_version=4))
        except (OSError, ValueError):
            continue
        if not intact or not isinstance(stored.get("findings"), list):
            continue
        when = stored.get("rendered_at") or html_path.stat().st_mtime
        stamp = dt.datetime.fromtimestamp(float(when), dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        earlier.append(
            NotebookResult(
                notebook.resolve(),
                str(title),
                html=html_path,
                executed=output_dir / notebook.name,
                findings=[str(f) for f in stored["findings"]],
                thumbnail=stored.get("thumbnail") if isinstance(stored.get("thumbnail"), str) else None,
                earlier=f"not rendered in this build: report from {stamp}",
            )
        )
    return earlier


def _datasheet(output_dir: Path, results, log) -> tuple[Path | None, str | None]:
    """Write the datasheet when every notebook it quotes ran in this build.

    Returns ``(html path, None)``, or ``(None, error)`` when writing it failed.
    """
    from .datasheet import QUOTED_NOTEBOOKS, write_datasheet

    if not set(QUOTED_NOTEBOOKS) <= {r.notebook.stem for r in results if r.error is None}:
        return None, None
    try:
        paths = write_datasheet(output_dir)
    except Exception as error:  # reported with the notebooks' failures
        return None, f"datasheet: {error.__class__.__name__}: {error}"
    log(f"wrote {paths['markdown']} and {paths['html']}")
    return paths["html"], None


class _Progress:
    """One progress bar for a build: notebooks done of total, and the current cell of each running one."""

    def __init__(self, notebooks, estimate: float | None, enabled: bool):
        import threading

        import nbformat
        from tqdm import tqdm

        self._lock, self._cells, self._running = threading.Lock(), {}, {}
        for notebook in notebooks:
            self._cells[notebook.name] = sum(c.cell_type == "code" for c in nbformat.read(notebook, as_version=4).cells)
        note = f"about {estimate / 60:.0f} min if nothing is reused" if estimate else "no earlier timings"
        self._bar = tqdm(
            total=len(notebooks),
            unit="notebook",
            desc=f"notebooks ({note})",
            disable=not enabled,
            bar_format="{desc}: {n_fmt}/{total_fmt} [{elapsed}] {postfix}",
        )

    @property
    def shown(self) -> bool:
        """Whether the bar is drawn (else the build logs a line per notebook)."""
        return not self._bar.disable

    def cell_callback(self, name: str):
        def on_cell(cell=None, cell_index=0, **_):
            with self._lock:
                self._running[name] = f"{name.split('_')[0]}: cell {cell_index}/{self._cells.get(name, '?')}"
                self._bar.set_postfix_str(", ".join(self._running.values()), refresh=True)

        return on_cell

    def done(self, name: str) -> None:
        with self._lock:
            self._running.pop(name, None)
            self._bar.set_postfix_str(", ".join(self._running.values()), refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def _outcome(result) -> str:
    """The build's log line for one notebook: what it wrote or reused, how long it took, its kernel's peak."""
    outcome = "failed" if result.error else ("reused " if result.reused else "wrote ") + str(result.html)
    peak = f", kernel peak {result.peak_bytes / 1e9:.2f} GB" if result.peak_bytes else ""
    return f"  {result.notebook.name}: {outcome} ({result.seconds:.1f} s{peak})"


def _write_index(notebooks_dir, output_dir: Path, results, mode, data_files, datasheet, datasheet_error, *, only):
    """Write ``index.html``; with ``only``, it keeps the reports (and datasheet) this build did not write, marked."""
    shown, datasheet_note = results, None
    if only:
        shown = results + _earlier_reports(notebooks_dir, output_dir, results)
        mode += f"; this build rendered {', '.join(r.notebook.stem for r in results)}"
        if datasheet is None and datasheet_error is None and (output_dir / "datasheet.html").is_file():
            datasheet = output_dir / "datasheet.html"
            datasheet_note = "not written in this build: from an earlier one"
    page = index_html(shown, output_dir, mode, data_files, datasheet=datasheet, datasheet_note=datasheet_note)
    atomic_write_bytes(output_dir / "index.html", page.encode("utf-8"))


def _summary(results, seconds: float, index: Path) -> str:
    """The build's last log line: which notebooks it executed and reused, how long it took, where the index is."""
    executed = [r.notebook.stem for r in results if not r.reused and r.error is None]
    reused = [r.notebook.stem for r in results if r.reused]
    return (
        f"executed {len(executed)} ({', '.join(executed) or 'none'}); reused {len(reused)} "
        f"({', '.join(reused) or 'none'}); {seconds:.0f} s in all; index: {index}"
    )


def build_reports(
    notebooks_dir="notebooks",
    output_dir="reports",
    *,
    quick: bool = False,
    parameters=None,
    only=None,
    hide_code: bool = False,
    check_data: bool = True,
    jobs: int | None = None,
    force: bool = False,
    progress: bool | None = None,
    max_memory: float | None = None,
    log=print,
) -> list[NotebookResult]:
    """Render every notebook of ``notebooks_dir`` into ``output_dir`` and write ``index.html``.

    ``quick`` passes :data:`QUICK_PARAMETERS` (a small sample); ``parameters`` adds or overrides
    papermill parameters; ``check_data`` verifies the data files first (see :func:`verify_data`).
    Notebooks whose code and inputs are unchanged since their last successful run reuse its
    outputs (:mod:`mnist_analysis.build.execution_cache`) unless ``force``. ``jobs`` notebooks run at
    once (default: the number of cores), longest first and only while their kernels' recorded
    peaks fit in ``max_memory`` bytes (default :data:`~mnist_analysis.build.schedule.DEFAULT_MAX_MEMORY`;
    see :mod:`mnist_analysis.build.schedule`); heavy results they share are computed once, since
    the result cache lets one process compute while the others wait. ``progress`` shows a
    progress bar (default: when the standard error is a terminal).
    Raises :class:`ReportError` naming every failed notebook and cell, after the index (which
    marks them as failed) is written.
    """
    import sys
    import time

    from ..validation import finite_float, positive_int
    from .schedule import DEFAULT_MAX_MEMORY, plan, record_runs, run_within_budget

    start = time.perf_counter()
    _STOPPING.clear()
    # Absolute paths: papermill changes the process's working folder while a notebook runs.
    check_output_outside(notebooks_dir, output_dir)
    output_dir = Path(output_dir).resolve()
    merged = check_parameters({**(QUICK_PARAMETERS if quick else {}), **(parameters or {})})
    jobs = positive_int(jobs if jobs is not None else (os.cpu_count() or 1), "jobs")
    notebooks = [n.resolve() for n in checked_notebooks(notebooks_dir, only)]
    max_memory = DEFAULT_MAX_MEMORY if max_memory is None else finite_float(max_memory, "max_memory", minimum=0)
    runs = plan(notebooks, merged, jobs)
    bar = _Progress(notebooks, runs.estimate, sys.stderr.isatty() if progress is None else progress)

    def render(notebook):
        if not bar.shown:
            log(f"rendering {notebook.name} ...")
        result = render_notebook(
            notebook,
            output_dir,
            merged,
            hide_code=hide_code,
            staging=staging,
            reuse=not force,
            on_cell=bar.cell_callback(notebook.name),
        )
        bar.done(notebook.name)
        if not bar.shown:
            log(_outcome(result))
        return result

    with _absolute_path_settings():
        data_files = verify_data(log) if check_data else []
        with staging_folder(output_dir, STAGING_PREFIX) as staging:
            rendered = run_within_budget(
                runs.order, render, jobs=jobs, max_memory=max_memory, peaks=runs.peaks, on_interrupt=stop_kernels
            )
    bar.close()
    results = [rendered[n] for n in notebooks]
    record_runs(merged, results)
    with _absolute_path_settings():
        datasheet, datasheet_error = _datasheet(output_dir, results, log)
    mode = ("quick " if quick else "full ") + (", ".join(f"{k}={v}" for k, v in merged.items()) or "default parameters")
    _write_index(notebooks_dir, output_dir, results, mode, data_files, datasheet, datasheet_error, only=only)
    log(_summary(results, time.perf_counter() - start, output_dir / "index.html"))
    failures = [r.error for r in results if r.error] + ([datasheet_error] if datasheet_error else [])
    if failures:
        raise ReportError(
            f"{len(failures)} of {len(results)} notebooks failed:\n" + "\n".join(f"  - {f}" for f in failures)
        )
    return results
