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
import numbers
import sys

import numpy as np

__all__ = ["ExerciseError", "call_answer", "require", "correct", "binomial_sigma", "close", "to_numpy",
           "name_mistake", "real_number"]


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


def _is_tensor(value) -> bool:
    """Whether ``value`` is a torch tensor (without importing torch: no tensor exists before it is imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def to_numpy(t) -> np.ndarray:
    """A torch tensor (detached, moved to the CPU) or an array-like as a float64 NumPy array."""
    if _is_tensor(t):
        t = t.detach().cpu().numpy()
    return np.asarray(t, dtype=np.float64)


def close(got, ref, *, rtol: float = 1e-5, atol: float = 1e-6, nan_equal: bool = False,
          finite: bool = False) -> bool:
    """Whether ``got`` equals ``ref`` entry by entry: ``|got - ref| <= atol + rtol |ref|``.

    Parameters
    ----------
    got, ref : array_like
        The answer's value and the reference (compared as float64 arrays); different shapes are
        never close (no broadcasting).
    rtol, atol : float
        Relative and absolute tolerance.
    nan_equal : bool
        Whether a NaN in ``got`` matches a NaN in ``ref`` (a reference that is NaN by definition);
        otherwise a NaN matches nothing.
    finite : bool
        Whether every entry of ``got`` must be finite (an infinite ``got`` then matches nothing,
        not even an infinite ``ref`` of the other sign).

    Returns
    -------
    bool

    >>> close([1.0, np.nan], [1.0 + 1e-7, np.nan], nan_equal=True)
    True
    >>> close([1.0, 2.0], [1.0])
    False
    """
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        return False
    with np.errstate(invalid="ignore", over="ignore"):           # inf - inf: not close, no warning
        ok = np.abs(got - ref) <= atol + rtol * np.abs(ref)
    if nan_equal:
        ok = ok | (np.isnan(got) & np.isnan(ref))
    if finite:
        ok = ok & np.isfinite(got)
    return bool(np.all(ok))


def name_mistake(number: str, results, close=close) -> None:
    """Raise the message of the common mistake that reproduces the answer in *every* case.

    One case alone can be matched by several mistakes; all cases together single one out. If no
    mistake matches every case, return (the caller then reports the difference itself).

    Parameters
    ----------
    number : str
        The exercise's number, ``"N.M"``.
    results : sequence of tuple
        One tuple per case: the answer's value first, the list ``[(wrong value, message), ...]`` of
        the common mistakes last (items in between, e.g. the reference, are ignored), that is
        ``(got, variants)`` or ``(got, ref, variants)``.
    close : callable
        ``close(got, wrong)``: whether the answer equals a wrong value (by default :func:`close`
        with its default tolerances).

    Raises
    ------
    ExerciseError
        ``Exercise N.M: message`` of the first mistake (in the order the messages first occur)
        that matches the answer in every case.
    """
    for message in dict.fromkeys(m for *_, variants in results for _, m in variants):
        if all(any(m == message and close(got, w) for w, m in variants) for got, *_, variants in results):
            raise ExerciseError(f"Exercise {number}: {message}")


def real_number(number: str, value, what: str, *, tensor: bool = False, any_dtype: bool = False,
                advice: str = "return one number (a float)", shown: int = 60) -> float:
    """``value`` as a float, if it is one real number.

    One real number is a Python or NumPy real or a 0-d NumPy array of a numeric dtype (of any
    dtype with ``any_dtype``) or, with ``tensor``, a torch tensor of one element (a loss).

    Parameters
    ----------
    number : str
        The exercise's number, ``"N.M"``.
    value
        What the answer returned.
    what : str
        What ``value`` is, for the message (``"the EMD"``).
    tensor, any_dtype : bool
        Also accept a one-element torch tensor; a 0-d array of any dtype.
    advice : str
        The end of the message.
    shown : int
        How many characters of ``str(value)`` the message shows.

    Raises
    ------
    ExerciseError
        ``Exercise N.M: {what} is a {type} ({value}); {advice}`` if ``value`` is not one number.
    """
    ok = isinstance(value, numbers.Real) or (
        isinstance(value, np.ndarray) and value.ndim == 0 and (any_dtype or np.issubdtype(value.dtype, np.number))
    ) or (tensor and _is_tensor(value) and value.numel() == 1)
    require(number, ok, f"{what} is a {type(value).__name__} ({str(value)[:shown]!r}); {advice}")
    return float(value)
