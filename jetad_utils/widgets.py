"""Thin ipywidgets wrappers.

A widget here only wires controls to a plotting function that the notebook also calls directly
(so the science runs, and is checked, with no front end attached). Nothing is computed here.

How the explorer draws
----------------------
Its figure lives in one :class:`ipywidgets.Output` whose ``outputs`` the kernel *replaces* when
a redraw ends (the PNG of the new figure, then anything ``update`` printed): the old figure
stays visible while the new one is computed, and there is never more than one. Nothing goes
through the Output's capture context (``with out:``), whose copies the front end sends back
and which would mix old and new outputs. An exception inside ``update`` replaces the figure by
its traceback. Figures that ``update`` creates are closed afterwards, so the inline backend does
not show them a second time at the end of the cell. A status line says whether the figure is
up to date ("computing…" while ``update`` runs, then the values it shows, or the error), and
a permanent note says that changes made while the kernel is busy with other cells wait until it
is free (a kernel runs one thing at a time: a slider moved during Run All is applied after the
last cell).
"""

from __future__ import annotations

import contextlib
import html
import io
import traceback

import ipywidgets as w

__all__ = ["explorer", "Explorer", "figure_output", "error_output"]

#: the permanent note below the controls
QUEUE_NOTE = ("Each change redraws the figure in place. Changes made while the kernel is busy "
              "with other cells (e.g. during Run All) are applied when it is free.")


def figure_output(fig) -> dict:
    """A Jupyter ``display_data`` output holding ``fig`` as a PNG (as the inline backend shows it).

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    dict
        ``{"output_type": "display_data", "data": {"image/png": <base64>, "text/plain": ...},
        "metadata": {}}``, an item of :attr:`ipywidgets.Output.outputs`.
    """
    from IPython.core.pylabtools import print_figure

    png = print_figure(fig, "png", bbox_inches="tight", base64=True)
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": png, "text/plain": repr(fig)}}


def error_output(exc: BaseException) -> dict:
    """A Jupyter ``error`` output showing ``exc`` with its traceback."""
    return {"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc),
            "traceback": [line.rstrip("\n") for line in
                          traceback.format_exception(type(exc), exc, exc.__traceback__)]}


def _describe(values: dict) -> str:
    return ", ".join(f"{name} = {value:.3g}" if isinstance(value, float) else f"{name} = {value}"
                     for name, value in values.items())


def _status_html(state: str, text: str) -> str:
    colour = {"busy": "#b36b00", "idle": "#2e7d32", "error": "#c62828"}[state]
    return f'<span style="color: {colour}">{html.escape(text)}</span>'


class Explorer(w.VBox):
    """Controls, a status line, a note and one output area with the figure of ``update``.

    Made by :func:`explorer`; ``redraw()`` draws the figure for the controls' current values.

    Attributes
    ----------
    controls : dict of str -> ipywidgets.ValueWidget
    status : ipywidgets.HTML
        "computing ..." while ``update`` runs, then the values shown (or the error).
    output : ipywidgets.Output
        Its ``outputs`` hold exactly one item after each redraw: the figure, or the error.
    state : str
        ``"busy"``, ``"idle"`` or ``"error"``.
    """

    def __init__(self, update, controls: dict, *, title: str | None = None):
        if not controls:
            raise ValueError("explorer needs at least one control")
        self.update_function = update
        self.controls = dict(controls)
        self.status = w.HTML()
        self.output = w.Output()
        self.state = "idle"
        note = w.HTML(f'<small style="color: #666">{html.escape(QUEUE_NOTE)}</small>')
        header = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        super().__init__([*header, w.HBox(list(self.controls.values())), self.status, note,
                          self.output])
        for control in self.controls.values():
            control.observe(self.redraw, names="value")
        self.redraw()

    def _set_status(self, state: str, text: str) -> None:
        self.state = state
        self.status.value = _status_html(state, text)

    def redraw(self, _change=None) -> None:
        """Draw ``update(**values)`` for the controls' current values, in place of the old figure."""
        values = {name: control.value for name, control in self.controls.items()}
        self._set_status("busy", f"computing… ({_describe(values)})")
        try:
            items = self._render(values)
        except BaseException:  # KeyboardInterrupt: the old figure stays, the status says so
            self._set_status("error", f"interrupted ({_describe(values)})")
            raise
        self.output.outputs = tuple(items)
        first = items[0]
        if first["output_type"] == "error":
            self._set_status("error", f"error: {first['ename']}: {first['evalue']} "
                                      f"({_describe(values)}); traceback below")
        else:
            self._set_status("idle", f"showing {_describe(values)}")

    def _render(self, values: dict) -> list:
        """The output items of ``update(**values)``: its figure (or error), then what it printed."""
        import matplotlib.pyplot as plt

        open_before = set(plt.get_fignums())
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                fig = self.update_function(**values)
            if not hasattr(fig, "savefig"):
                raise TypeError(f"update must return a matplotlib Figure, got {type(fig).__name__}")
            items = [figure_output(fig)]
        except Exception as exc:  # shown in the widget: a callback has no cell to raise in
            items = [error_output(exc)]
        finally:
            for num in set(plt.get_fignums()) - open_before:
                plt.close(num)
        if printed.getvalue():
            items.append({"output_type": "stream", "name": "stdout", "text": printed.getvalue()})
        return items

    def _repr_mimebundle_(self, **kwargs):
        """The widget, plus its current figure as a PNG for viewers without widgets (HTML, GitHub)."""
        data = super()._repr_mimebundle_(**kwargs)
        outputs = self.output.outputs
        if outputs and "image/png" in outputs[0].get("data", {}):
            data = {**data, "image/png": outputs[0]["data"]["image/png"]}
        return data


def explorer(update, controls: dict, *, title: str | None = None) -> Explorer:
    """Re-draw ``update(**values)`` whenever one of ``controls`` changes.

    Parameters
    ----------
    update : callable
        ``update(**{name: control.value}) -> matplotlib.figure.Figure``. It should not call
        ``plt.show()``; the explorer shows the figure it returns (and closes it).
    controls : dict of str -> ipywidgets.ValueWidget
        E.g. ``{"distance": FloatSlider(...)}``; use ``continuous_update=False`` for controls
        whose update trains a model.
    title : str, optional
        Shown above the controls.

    Returns
    -------
    Explorer
        An :class:`ipywidgets.VBox`: display it (it is the last expression of the cell). The
        figure is drawn once on creation, so the cell needs no other plot of ``update``.
    """
    return Explorer(update, controls, title=title)
