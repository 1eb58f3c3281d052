"""The page a newcomer reads first: ``reports/index.html``.

For each notebook: its title, a link to its report, a thumbnail figure and its key findings,
quoted from the executed notebook (see :mod:`mnist_analysis.findings`), never typed here.
Below them: when and how the reports were built, the package versions, and the data files
with the checksums they were verified against in this build.
"""

from __future__ import annotations

import datetime as dt
import html
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

STYLE = """
body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}
.card{display:flex;gap:1.2rem;border:1px solid #ddd;border-radius:6px;padding:1rem;margin:1rem 0}
.card img{width:220px;height:auto;object-fit:contain;border:1px solid #eee;align-self:flex-start}
.card h2{margin:0 0 .3rem 0;font-size:1.25rem}.meta{color:#666;font-size:.9rem}
.failed{color:#b00;font-weight:bold}.earlier{color:#8a5a00}table{border-collapse:collapse;font-size:.9rem}
td,th{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left}code{font-size:.85rem}
"""


def versions() -> dict[str, str]:
    """Installed versions of the distributions the reports depend on."""
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _card(result, output_dir) -> str:
    title = html.escape(result.title or result.notebook.stem)
    thumb = (
        f'<img alt="figure from {title}" src="data:image/png;base64,{result.thumbnail}">' if result.thumbnail else ""
    )
    previous = getattr(result, "previous_html", None)
    if result.html is None and previous is not None:
        link = html.escape(previous.relative_to(output_dir).as_posix())
        built = dt.datetime.fromtimestamp(previous.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return (
            f'<div class="card"><div><h2>{title}</h2><p class="failed">FAILED in this build: the report '
            f"linked below is OUT OF DATE</p><p>{html.escape(result.error or '')}</p>"
            f'<p class="meta"><a href="{link}">last good report</a> (from an earlier build, {built}); its '
            "findings are not quoted here, since this build could not reproduce them.</p></div></div>"
        )
    if result.html is None:
        return (
            f'<div class="card">{thumb}<div><h2>{title}</h2><p class="failed">FAILED</p>'
            f"<p>{html.escape(result.error or '')}</p></div></div>"
        )
    link = html.escape(result.html.relative_to(output_dir).as_posix())
    findings = "".join(f"<li>{html.escape(f)}</li>" for f in result.findings[:MAX_FINDINGS])
    findings = f"<ul>{findings}</ul>" if findings else "<p class='meta'>(this notebook states no key findings)</p>"
    return (
        f'<div class="card"><a href="{link}">{thumb}</a><div><h2><a href="{link}">{title}</a></h2>'
        f'<div class="meta"><code>{html.escape(result.notebook.name)}</code> &middot; {_timing(result)}'
        f"</div>{findings}</div></div>"
    )


def _timing(result) -> str:
    """How this build got the notebook's outputs: executed (and how long), or reused from an earlier run."""
    earlier = getattr(result, "earlier", None)
    if earlier:
        return f'<span class="earlier">{html.escape(earlier)}</span>'
    reused = getattr(result, "reused", None)
    if reused:
        return f"{html.escape(reused)} (re-rendered in {result.seconds:.0f} s)"
    return f"executed in {result.seconds:.0f} s"


def _datasheet_card(datasheet, output_dir, note=None) -> str:
    """A link to the datasheet (``datasheet``: its HTML path), or nothing; ``note``: it is from an earlier build."""
    if datasheet is None:
        return ""
    link = html.escape(datasheet.relative_to(output_dir).as_posix())
    when = "in the build that wrote it" if note else "in this build"
    marked = f'<p class="meta earlier">{html.escape(note)}</p>' if note else ""
    return (
        f'<div class="card"><div><h2><a href="{link}">Datasheet for MNIST</a></h2>{marked}<p>The dataset documented '
        f"in the sections of Datasheets for Datasets (Gebru et al.), every number computed {when} or quoted "
        "from a cited source (also as <code>datasheet.md</code>).</p></div></div>"
    )


def index_html(results, output_dir, mode: str, data_files=(), datasheet=None, datasheet_note=None) -> str:
    """Return the index page for ``results`` (a list of ``reports.NotebookResult``).

    ``data_files`` is a sequence of ``(DataFile, Located)`` pairs verified in this build;
    ``datasheet`` the HTML datasheet (linked above the notebooks), if any: written in this build,
    or, with ``datasheet_note`` saying so, by an earlier one. A result with ``earlier`` set is a
    report this build did not render (a build with ``--only``), marked with when it was.
    """
    built = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cards = "\n".join(_card(r, output_dir) for r in results)
    version_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in versions().items()
    )
    data_rows = "".join(
        f"<tr><td><code>{html.escape(spec.filename)}</code></td><td><code>{spec.sha256}</code></td>"
        f"<td>{html.escape(located.origin)}</td></tr>"
        for spec, located in data_files
    )
    data_table = (
        "<h2>Data, verified in this build</h2><p>SHA-256 of each file's decompressed content, "
        "checked against the values pinned in <code>mnist_analysis/data/registry.py</code>.</p>"
        f"<table><tr><th>file</th><th>SHA-256 (decompressed)</th><th>found in</th></tr>{data_rows}</table>"
        if data_rows
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mnist-analysis reports</title><style>{STYLE}</style></head>
<body><h1>mnist-analysis reports</h1>
<p>What MNIST looks like in numbers, where its classes meet, what classifiers get wrong, and who wrote
the digits. Each card quotes the key findings computed in the build that rendered its report (this one, unless the
card says otherwise); follow a title for the full report.</p>
<p class="meta">Built {built}; mode: {html.escape(mode)}.</p>
{_datasheet_card(datasheet, output_dir, datasheet_note)}
{cards}
{data_table}
<h2>Software</h2><table>{version_rows}</table>
</body></html>
"""
