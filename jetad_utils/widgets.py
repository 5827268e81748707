"""Thin ipywidgets wrappers.

A widget here only wires controls to a plotting function that the notebook also calls directly
(so the science runs, and is checked, with no front end attached). Nothing is computed here.
"""

from __future__ import annotations

__all__ = ["explorer"]


def explorer(update, controls: dict, *, title: str | None = None):
    """Re-draw ``update(**values)`` whenever one of ``controls`` changes.

    Parameters
    ----------
    update : callable
        ``update(**{name: control.value}) -> matplotlib.figure.Figure``.
    controls : dict of str -> ipywidgets.ValueWidget
        E.g. ``{"distance": FloatSlider(...)}``; use ``continuous_update=False`` for controls
        whose update trains a model.
    title : str, optional
        Shown above the controls.

    Returns
    -------
    ipywidgets.VBox
        Display it (it is the last expression of the cell). The figure is drawn once on
        creation.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    if not controls:
        raise ValueError("explorer needs at least one control")
    out = w.Output()

    def redraw(_change=None):
        values = {name: control.value for name, control in controls.items()}
        with out:
            out.clear_output(wait=True)
            fig = update(**values)
            display(fig)
            plt.close(fig)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    header = [w.HTML(f"<b>{title}</b>")] if title else []
    return w.VBox([*header, w.HBox(list(controls.values())), out])
