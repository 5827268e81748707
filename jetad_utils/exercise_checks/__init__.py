"""Checks of the notebooks' exercises: does a student's answer have the property that defines it?

Each notebook ``NN`` has a module ``exercise_checks.nbNN`` with one function per exercise,
``exercise_N_M(answer, ...)``, called in the cell right after the exercise. A check

* calls the student's function itself, on inputs it controls *and* on the inputs the notebook
  gives it later (dtypes, shapes), so an answer that passes does not break three cells on;
* tests the property that defines a right answer (not agreement with one solution's numbers),
  with a tolerance that follows from the statistics of any correct answer (e.g. a binomial
  spread for a random draw), so a correct answer is never rejected;
* on a wrong answer raises :class:`ExerciseError` whose message names the likely cause;
* on a right answer prints one line, ``Exercise N.M: correct``.

The helpers below are shared by the per-notebook modules.
"""

from __future__ import annotations

import math

__all__ = ["ExerciseError", "call_answer", "require", "correct", "binomial_sigma"]


class ExerciseError(Exception):
    """A student's answer to an exercise is missing or wrong (the message says how)."""


def call_answer(number: str, answer, *args, **kwargs):
    """Call the student's function ``answer`` and return its result.

    A stub that still raises ``NotImplementedError`` becomes an :class:`ExerciseError` saying the
    exercise is not answered yet (not a traceback from inside the stub).
    """
    try:
        return answer(*args, **kwargs)
    except NotImplementedError as exc:
        raise ExerciseError(
            f"Exercise {number} is not answered yet: replace the line "
            f"'raise NotImplementedError(...)' in the exercise's cell with your code ({exc})"
        ) from None


def require(number: str, condition, message: str) -> None:
    """Raise :class:`ExerciseError` ``Exercise N.M: message`` unless ``condition`` holds."""
    if not bool(condition):
        raise ExerciseError(f"Exercise {number}: {message}")


def correct(number: str, detail: str = "") -> None:
    """Print the one-line confirmation of a right answer."""
    print(f"Exercise {number}: correct" + (f" ({detail})" if detail else ""))


def binomial_sigma(p: float, n: int) -> float:
    """Standard deviation of the fraction of successes in ``n`` draws with probability ``p``.

    >>> round(binomial_sigma(0.2, 20_000), 5)
    0.00283
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    return math.sqrt(p * (1 - p) / n)
