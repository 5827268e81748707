"""Tests of jetad_utils.widgets.explorer with real ipywidgets objects (and one real kernel).

The explorer's figure lives in ``Output.outputs``, which it replaces on every redraw, so the
tests read what a front end would show straight from the widget's synced state: exactly one
output (the figure as a PNG, or the error), a status line, a permanent note. The last test runs
an explorer in a real IPython kernel (nbclient) with the inline backend, where a figure made
while a cell executes could be shown a second time outside the widget.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
from pathlib import Path

import ipywidgets as widgets
import matplotlib
import matplotlib.pyplot as plt
import nbformat
import pytest

from jetad_utils.widgets import QUEUE_NOTE, Explorer, explorer

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

matplotlib.use("Agg")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _line(a=1.0, n=2):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0, a, n])
    ax.set_title(f"a = {a}, n = {n}")
    return fig


def _controls():
    return {"a": widgets.FloatSlider(value=1.0, min=0.0, max=5.0, step=0.5, description="a"),
            "n": widgets.IntSlider(value=2, min=1, max=4, description="n")}


def _png_digest(box: Explorer) -> str:
    """The one output of the explorer must be a PNG image; its SHA-256."""
    outputs = box.output.outputs
    assert len(outputs) == 1, f"expected exactly one output, got {len(outputs)}: {outputs}"
    out = outputs[0]
    assert out["output_type"] == "display_data", out
    data = base64.b64decode(out["data"]["image/png"])
    assert data.startswith(PNG_MAGIC)
    return hashlib.sha256(data).hexdigest()


def _status_text(box: Explorer) -> str:
    return box.status.value


@pytest.fixture(autouse=True)
def _no_open_figures():
    plt.close("all")
    yield
    plt.close("all")


def test_first_figure_drawn_on_creation():
    box = explorer(_line, _controls(), title="Demo")
    assert isinstance(box, widgets.VBox)
    _png_digest(box)
    assert box.state == "idle" and "showing a = 1, n = 2" in _status_text(box)
    texts = [c.value for c in box.children if isinstance(c, widgets.HTML)]
    assert "<b>Demo</b>" in texts


def test_several_changes_leave_exactly_one_figure_of_the_last_values():
    calls = []

    def update(a, n):
        calls.append((a, n))
        return _line(a, n)

    controls = _controls()
    box = explorer(update, controls)
    digests = {_png_digest(box)}
    for a, n in [(2.0, 2), (2.0, 3), (3.5, 3), (0.5, 1)]:
        controls["a"].value, controls["n"].value = a, n
        digests.add(_png_digest(box))        # exactly one image after every change
    assert calls[-1] == (0.5, 1)
    assert box.state == "idle" and "showing a = 0.5, n = 1" in _status_text(box)
    assert "computing" not in _status_text(box)
    assert len(calls) == 1 + 5, "one redraw per value change (the last step changes both)"
    assert len(digests) == 5, "every drawn state gives another image"
    assert plt.get_fignums() == [], "figures made by update must be closed (no second display)"


def test_status_says_computing_while_update_runs():
    seen = []
    holder = {}

    def update(a, n):
        if "box" in holder:
            seen.append((holder["box"].state, _status_text(holder["box"])))
        return _line(a, n)

    controls = _controls()
    holder["box"] = explorer(update, controls)
    controls["a"].value = 4.0
    assert seen and seen[-1][0] == "busy"
    assert "computing" in seen[-1][1] and "a = 4" in seen[-1][1]
    assert holder["box"].state == "idle" and "computing" not in _status_text(holder["box"])


def test_permanent_note_about_a_busy_kernel():
    controls = _controls()
    box = explorer(_line, controls)
    controls["n"].value = 3
    notes = [c.value for c in box.children if isinstance(c, widgets.HTML) and QUEUE_NOTE in c.value]
    assert len(notes) == 1
    assert "busy" in QUEUE_NOTE and "applied when it is free" in QUEUE_NOTE


def test_exception_in_update_is_shown_with_its_message_then_recovers():
    def update(a, n):
        if n == 3:
            raise ValueError("no grid point at n = 3")
        return _line(a, n)

    controls = _controls()
    box = explorer(update, controls)
    controls["n"].value = 3
    (out,) = box.output.outputs
    assert out["output_type"] == "error"
    assert out["ename"] == "ValueError" and out["evalue"] == "no grid point at n = 3"
    assert any("no grid point at n = 3" in line for line in out["traceback"])
    assert any("in update" in line for line in out["traceback"]), "the traceback names update"
    assert box.state == "error"
    assert "ValueError" in _status_text(box) and "no grid point at n = 3" in _status_text(box)
    assert plt.get_fignums() == []
    controls["n"].value = 4
    _png_digest(box)
    assert box.state == "idle" and "showing a = 1, n = 4" in _status_text(box)


def test_error_message_is_escaped_in_the_status_line():
    def update(a, n):
        raise RuntimeError("<b>not html</b>")

    box = explorer(update, _controls())
    assert "&lt;b&gt;not html&lt;/b&gt;" in _status_text(box)


def test_update_must_return_a_figure():
    box = explorer(lambda a, n: None, _controls())
    (out,) = box.output.outputs
    assert out["ename"] == "TypeError" and "matplotlib Figure" in out["evalue"]


def test_extra_figures_of_update_are_closed():
    def update(a, n):
        plt.figure()           # a stray figure the inline backend would show at the cell's end
        return _line(a, n)

    box = explorer(update, _controls())
    _png_digest(box)
    assert plt.get_fignums() == []


def test_figures_open_before_are_left_alone():
    mine = plt.figure()
    explorer(_line, _controls())
    assert plt.get_fignums() == [mine.number]


def test_control_types_of_the_notebooks():
    """The calls of notebooks 02-04: selection sliders, dropdowns, toggle buttons, strings."""
    seen = []

    def update(k=10, choice="k-medoids", how="min"):
        seen.append((k, choice, how))
        return _line(float(k), 2)

    controls = {"k": widgets.SelectionSlider(options=[1, 3, 10], value=10, description="k"),
                "choice": widgets.ToggleButtons(options=["k-medoids", "random"]),
                "how": widgets.Dropdown(options=["min", "mean"], value="min")}
    box = explorer(update, controls, title="event-to-ensemble OT score")
    controls["choice"].value = "random"
    controls["how"].value = "mean"
    assert seen[-1] == (10, "random", "mean")
    assert "choice = random" in _status_text(box)
    _png_digest(box)


def test_no_controls_is_an_error():
    with pytest.raises(ValueError, match="at least one control"):
        explorer(_line, {})


def test_static_viewers_get_the_current_figure():
    controls = _controls()
    box = explorer(_line, controls)
    controls["a"].value = 3.0
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"] == box.output.outputs[0]["data"]["image/png"]


KERNEL_CELLS = [
    "%matplotlib inline\n"
    "import matplotlib.pyplot as plt, ipywidgets as widgets\n"
    "from jetad_utils.widgets import explorer\n"
    "def update(a=1.0):\n"
    "    print('computing for', a)\n"
    "    fig, ax = plt.subplots(figsize=(3, 2))\n"
    "    ax.plot([0, a])\n"
    "    return fig\n"
    "slider = widgets.FloatSlider(value=1.0, min=0, max=5, description='a')\n"
    "box = explorer(update, {'a': slider})\n"
    "box",
    "slider.value = 2.0\nslider.value = 3.0",
    "import json\n"
    "print(json.dumps([len(box.output.outputs), sorted(box.output.outputs[0]['data']), box.state,"
    " len(plt.get_fignums())]))\n"
    "print(box.output.outputs[1]['text'], end='')",
]


@pytest.mark.notebook
def test_in_a_kernel_the_cell_shows_only_the_widget(tmp_path, monkeypatch):
    """Inline backend, real kernel: no second copy of the figure outside the widget."""
    from nbclient import NotebookClient

    from jetad_utils.nbtools import write_kernelspec

    write_kernelspec(tmp_path, "Python 3 (test environment)")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in KERNEL_CELLS]
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()

    widget_cell = nb.cells[0].outputs
    kinds = [(o["output_type"], sorted(o.get("data", {}))) for o in widget_cell]
    assert len(widget_cell) == 1, f"the explorer's cell shows more than the widget: {kinds}"
    assert "application/vnd.jupyter.widget-view+json" in widget_cell[0]["data"]
    assert nb.cells[1].outputs == [], "a redraw must not show anything outside the widget"
    count, mimes, state, open_figures = json.loads(nb.cells[2].outputs[0]["text"].splitlines()[0])
    assert (count, mimes, state, open_figures) == (2, ["image/png", "text/plain"], "idle", 0)
    assert nb.cells[2].outputs[0]["text"].endswith("computing for 3.0\n"), "what update printed"
    # the saved widget state (what a reopened notebook shows): the last figure and its text
    states = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [s["state"]["outputs"] for s in states.values() if s["model_name"] == "OutputModel"]
    assert len(outputs) == 1 and [o["output_type"] for o in outputs[0]] == ["display_data", "stream"]
    assert "image/png" in outputs[0][0]["data"] and outputs[0][1]["text"] == "computing for 3.0\n"


def test_printed_text_is_shown_below_the_one_figure():
    def update(a, n):
        print(f"training for a = {a}")
        return _line(a, n)

    controls = _controls()
    box = explorer(update, controls)
    controls["a"].value = 2.5
    kinds = [o["output_type"] for o in box.output.outputs]
    assert kinds == ["display_data", "stream"]
    assert box.output.outputs[1]["text"] == "training for a = 2.5\n"


def _top_level_calls(tree, name):
    """Calls of ``name`` in a cell's code outside any function or class definition."""
    found = []

    def visit(node, inside):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            inside = True
        if (not inside and isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == name):
            found.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return found


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("[0-9]*.ipynb")), ids=lambda p: p.stem)
def test_explorer_figures_are_not_drawn_a_second_time(path):
    """explorer(f, ...) draws f's figure itself: a cell that also calls f shows a static copy."""
    cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    trees = [ast.parse("\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))))
             for src in cells]
    functions = {call.args[0].id for tree in trees for call in ast.walk(tree)
                 if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                 and call.func.id == "explorer" and call.args and isinstance(call.args[0], ast.Name)}
    for name in functions:
        calls = [(i, line) for i, tree in enumerate(trees) for line in _top_level_calls(tree, name)]
        assert not calls, f"{path.name}: {name}() is called outside explorer (code cell, line): {calls}"
