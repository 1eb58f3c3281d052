"""Execute the notebooks with papermill and write self-contained HTML reports plus an index page.

For each ``notebooks/NN_name.ipynb`` the build writes ``reports/NN_name.ipynb`` (the executed
notebook) and ``reports/NN_name.html``. A notebook's old HTML is deleted before it runs, so
a failed run never leaves an earlier report looking current; the index marks it as failed.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from .findings import read_findings
from .idx import atomic_write_bytes
from .report_index import index_html

#: What ``--quick`` passes to every notebook: a small stratified sample, for tests.
QUICK_PARAMETERS = {"sample_size": 2000}
KERNEL_NAME = "python3"
#: nbconvert templates shipped with the package (``mnist_report``: no CDN scripts, contents, hide-code).
TEMPLATES = Path(__file__).resolve().parent / "templates"


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


def find_notebooks(folder, only=None) -> list[Path]:
    """Return the ``.ipynb`` files of ``folder`` in name order, or those whose stem is in ``only``."""
    folder = Path(folder)
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
    figures = [(("thumbnail" in cell.metadata.get("tags", [])), output["data"]["image/png"])
               for cell in node.cells if cell.cell_type == "code"
               for output in cell.outputs if "image/png" in output.get("data", {})]
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


def render_notebook(notebook, output_dir, parameters=None, *, hide_code: bool = False) -> NotebookResult:
    """Execute ``notebook`` with ``parameters`` into ``output_dir`` and convert it to HTML.

    Returns a :class:`NotebookResult`; a failure is recorded in ``result.error`` (naming the
    notebook and the cell) rather than raised, so that a build can report every notebook.
    """
    import time

    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    notebook, output_dir = Path(notebook), Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    html_path, executed = output_dir / f"{notebook.stem}.html", output_dir / notebook.name
    html_path.unlink(missing_ok=True)
    result = NotebookResult(notebook, notebook_title(nbformat.read(notebook, as_version=4)), parameters=dict(parameters or {}))
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=result.parameters, kernel_name=KERNEL_NAME,
            cwd=str(notebook.parent), progress_bar=False, log_output=False,
        )
        result.executed = executed
        node = nbformat.read(executed, as_version=4)
        result.findings, result.thumbnail = read_findings(node), thumbnail(node)
        node.metadata["title"] = result.title or notebook.stem  # the page's <title>
        exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="mnist_report",
                                embed_images=True, exclude_input=hide_code)
        body, _ = exporter.from_notebook_node(node)
        atomic_write_bytes(html_path, body.encode("utf-8"))
        result.html = html_path
    except Exception as error:  # recorded and re-raised by build_reports as one ReportError
        result.error = _failure_message(notebook, executed, error)
    result.seconds = time.perf_counter() - start
    return result


@contextlib.contextmanager
def _absolute_path_settings():
    """Make relative data and cache folder settings absolute while kernels run in other folders."""
    from .cache import CACHE_ENV
    from .sources import DATA_DIR_ENV

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
    """Fetch (if needed) and verify every registered data file; return ``(DataFile, Located)`` pairs.

    Run before any notebook, so that a missing or bad file stops the build with the loader's
    own error instead of failing inside every notebook.
    """
    from .registry import REGISTRY
    from .sources import fetch

    verified = [(spec, fetch(key)) for key, spec in REGISTRY.items()]
    log(f"verified {len(verified)} data files")
    return verified


def build_reports(notebooks_dir="notebooks", output_dir="reports", *, quick: bool = False, parameters=None,
                  only=None, hide_code: bool = False, check_data: bool = True, log=print) -> list[NotebookResult]:
    """Render every notebook of ``notebooks_dir`` into ``output_dir`` and write ``index.html``.

    ``quick`` passes :data:`QUICK_PARAMETERS` (a small sample); ``parameters`` adds or overrides
    papermill parameters; ``check_data`` verifies the data files first (see :func:`verify_data`).
    Raises :class:`ReportError` naming every failed notebook and cell, after the index (which
    marks them as failed) is written.
    """
    output_dir = Path(output_dir)
    notebooks = find_notebooks(notebooks_dir, only)
    if not notebooks:
        raise FileNotFoundError(f"notebooks folder {notebooks_dir}: no .ipynb files to render")
    (output_dir / "index.html").unlink(missing_ok=True)
    merged = {**(QUICK_PARAMETERS if quick else {}), **(parameters or {})}
    results = []
    with _absolute_path_settings():
        data_files = verify_data(log) if check_data else []
        for notebook in notebooks:
            log(f"rendering {notebook.name} ...")
            result = render_notebook(notebook, output_dir, merged, hide_code=hide_code)
            log(f"  {'failed' if result.error else 'wrote ' + str(result.html)} ({result.seconds:.1f} s)")
            results.append(result)
    mode = ("quick " if quick else "full ") + (", ".join(f"{k}={v}" for k, v in merged.items()) or "default parameters")
    atomic_write_bytes(output_dir / "index.html", index_html(results, output_dir, mode, data_files).encode("utf-8"))
    failures = [r.error for r in results if r.error]
    if failures:
        raise ReportError(f"{len(failures)} of {len(results)} notebooks failed:\n" + "\n".join(f"  - {f}" for f in failures))
    return results
