"""Key findings: shown in a notebook, collected from the executed notebook into the report index.

A notebook ends with ``show_findings([...])``: a bulleted list of sentences whose numbers were
computed in that run. The output carries the sentences in its metadata, so the index page can
quote them without parsing prose, and a second build with the same seed can be compared.
"""

from __future__ import annotations

METADATA_KEY = "mnist_analysis"


def findings_markdown(findings, title: str = "Key findings") -> str:
    """Return the findings as a Markdown bulleted list under a bold title.

    Examples
    --------
    >>> print(findings_markdown(["60,000 training images.", "10,000 test images."]))
    **Key findings**
    <BLANKLINE>
    - 60,000 training images.
    - 10,000 test images.
    """
    findings = [str(f).strip() for f in findings]
    if not findings or any(not f for f in findings):
        raise ValueError(f"findings: expected a non-empty list of non-empty sentences, found {findings!r}")
    return f"**{title}**\n\n" + "\n".join(f"- {f}" for f in findings)


def show_findings(findings, title: str = "Key findings") -> None:
    """Display ``findings`` in the notebook and tag the output so the report index can collect them."""
    from IPython.display import Markdown, display

    findings = [str(f).strip() for f in findings]
    display(Markdown(findings_markdown(findings, title)), metadata={METADATA_KEY: {"findings": findings}})


def read_findings(notebook) -> list[str]:
    """Return the findings a notebook (an executed ``nbformat`` node) displayed with :func:`show_findings`.

    Examples
    --------
    >>> from nbformat.v4 import new_code_cell, new_notebook, new_output
    >>> output = new_output("display_data", {"text/markdown": "..."}, metadata={METADATA_KEY: {"findings": ["A."]}})
    >>> read_findings(new_notebook(cells=[new_code_cell(outputs=[output])]))
    ['A.']
    """
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            found += output.get("metadata", {}).get(METADATA_KEY, {}).get("findings", [])
    return found
