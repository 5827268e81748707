"""The record of one planted fault (see ``tests/mutation_check.py``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """A deliberate bug: replace ``old`` (found exactly once) by ``new`` in ``path``.

    Parameters
    ----------
    name : str
        Short identifier, used on the command line.
    path : str
        File relative to the repository root: a ``.py`` module or an ``.ipynb`` notebook (then
        ``old`` must occur in exactly one cell's source, exactly once).
    old, new : str
        The exact source substring and its replacement.
    notebooks : tuple of str
        Notebook paths (relative to the root) whose checks must catch the fault; run in order,
        stopping at the first that catches it.
    what : str
        One line describing the bug.
    """

    name: str
    path: str
    old: str
    new: str
    notebooks: tuple[str, ...]
    what: str
