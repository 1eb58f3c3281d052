"""The build's HTML pages besides the notebooks' reports, rendered from Jinja templates.

Every page the build writes comes from a template in the package's ``build/templates`` folder:
the notebooks' reports from ``mnist_report`` (through nbconvert, :mod:`~mnist_analysis.build.reports`),
the index and the datasheet from ``pages`` (here). No page, and no style sheet, is assembled in
Python strings; values are escaped by the templates (autoescape), and a template refers to no
value it is not given (``StrictUndefined``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

#: The templates shipped with the package: ``mnist_report`` (nbconvert) and ``pages`` (Jinja).
TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES / "pages"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_page(template: str, **values) -> str:
    """Render ``templates/pages/<template>`` with ``values``; pass HTML that is already safe as ``markupsafe.Markup``.

    Examples
    --------
    >>> page = render_page("datasheet.html.j2", title="A <title>", body="<p>text</p>")
    >>> "<title>A &lt;title&gt;</title>" in page, "&lt;p&gt;text&lt;/p&gt;" in page
    (True, True)
    """
    return _environment().get_template(template).render(**values)
