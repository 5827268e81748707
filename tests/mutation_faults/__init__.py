"""The planted faults of the mutation check, one module per notebook that must catch them.

Each module ``nbNN.py`` defines ``FAULTS``, a tuple of :class:`Fault`; ``FAULTS`` here is their
concatenation in notebook order (``tests/mutation_check.py`` runs them).
"""

from __future__ import annotations

from . import nb01, nb02, nb03, nb04, nb05, nb06, nb07
from ._fault import Fault

FAULTS: tuple[Fault, ...] = (*nb01.FAULTS, *nb02.FAULTS, *nb03.FAULTS, *nb04.FAULTS,
                             *nb05.FAULTS, *nb06.FAULTS, *nb07.FAULTS)

__all__ = ["FAULTS", "Fault"]
