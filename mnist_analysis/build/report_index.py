"""The page a newcomer reads first: ``reports/index.html``.

For each notebook: its title, a link to its report, a thumbnail figure and its key findings,
quoted from the executed notebook (see :mod:`mnist_analysis.findings`), never typed here. The page is rendered from
``templates/pages/index.html.j2`` (:mod:`~mnist_analysis.build.pages`).
Below them: when and how the reports were built, the package versions, and the data files
with the checksums they were verified against in this build.
"""

from __future__ import annotations

import datetime as dt
import platform
from importlib import metadata

#: Distributions whose versions the index lists.
VERSIONED = (
    "mnist-analysis",
    "numpy",
    "pandas",
    "matplotlib",
    "seaborn",
    "scikit-learn",
    "umap-learn",
    "scikit-image",
    "papermill",
    "nbconvert",
)
MAX_FINDINGS = 5


def versions() -> dict[str, str]:
    """Installed versions of the distributions the reports depend on."""
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _card(result, output_dir) -> dict:
    """What the index shows of one notebook's result (see ``templates/pages/index.html.j2``)."""
    card = {
        "title": result.title or result.notebook.stem,
        "file": result.notebook.name,
        "thumbnail": result.thumbnail,
        "error": result.error or "",
        "link": result.html.relative_to(output_dir).as_posix() if result.html is not None else None,
        "previous": None,
        "findings": result.findings[:MAX_FINDINGS] if result.html is not None else [],
        "earlier": getattr(result, "earlier", None),
        "reused": getattr(result, "reused", None),
        "seconds": result.seconds,
    }
    previous = getattr(result, "previous_html", None)
    if result.html is None and previous is not None:
        built = dt.datetime.fromtimestamp(previous.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        card["previous"] = {"link": previous.relative_to(output_dir).as_posix(), "built": built}
    return card


def index_html(results, output_dir, mode: str, data_files=(), datasheet=None, datasheet_note=None) -> str:
    """Return the index page for ``results`` (a list of ``reports.NotebookResult``), in the notebooks' name order.

    ``data_files`` is a sequence of ``(DataFile, Located)`` pairs verified in this build;
    ``datasheet`` the HTML datasheet (linked above the notebooks), if any: written in this build,
    or, with ``datasheet_note`` saying so, by an earlier one. A result with ``earlier`` set is a
    report this build did not render (a build with ``--only``), marked with when it was.
    """
    from .pages import render_page

    return render_page(
        "index.html.j2",
        title="mnist-analysis reports",
        built=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        mode=mode,
        datasheet=None
        if datasheet is None
        else {"link": datasheet.relative_to(output_dir).as_posix(), "note": datasheet_note},
        cards=[_card(r, output_dir) for r in sorted(results, key=lambda r: r.notebook.name)],
        data_files=[
            {"name": spec.filename, "sha256": spec.sha256, "origin": located.origin} for spec, located in data_files
        ],
        versions=versions(),
    )
