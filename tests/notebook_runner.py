"""Executes a course notebook top to bottom, at smoke or full size.

Every notebook in `training/notebooks/` reads two environment variables in
its first code cell: `VLPK_NOTEBOOK_SMOKE` (`"1"`: a seconds-long run for the
test suite) and `VLPK_NOTEBOOK_DIR` (where it writes its data and models;
a temporary folder when unset).
"""

import os

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "training", "notebooks")
)


def execute(name, workdir, smoke, timeout=900):
    """Runs `training/notebooks/<name>` and returns the executed notebook."""
    notebook = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    env_setup = (
        "import os\n"
        f"os.environ['VLPK_NOTEBOOK_SMOKE'] = '{1 if smoke else 0}'\n"
        f"os.environ['VLPK_NOTEBOOK_DIR'] = {str(workdir)!r}\n"
        "os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')\n"
    )
    notebook.cells.insert(0, nbformat.v4.new_code_cell(env_setup))
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": NOTEBOOKS}},
    )
    client.execute()
    return notebook


def outputs_text(notebook):
    """All text a reader sees in the outputs, joined."""
    text = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text.append(output.get("text", ""))
            text.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(text)


def figure_count(notebook):
    """How many pictures (PNG outputs) the notebook showed."""
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
