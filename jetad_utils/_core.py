"""Seeds, devices, the fast-mode switch, cache directories and in-notebook checks."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
#: spellings a yes/no setting accepts (environment variables, ``jetad-data --set KEY=VALUE``)
BOOL_SPELLINGS = "1/true/yes/on or 0/false/no/off"


def parse_bool(raw: str, what: str) -> bool:
    """``"1"/"true"/"yes"/"on"`` -> True, ``"0"/"false"/"no"/"off"`` -> False, else an error.

    >>> parse_bool("Yes", "mpi")
    True
    >>> parse_bool("ture", "mpi")
    Traceback (most recent call last):
    ...
    ValueError: mpi=ture is not a yes/no value; use 1/true/yes/on or 0/false/no/off
    """
    value = str(raw).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE - {""}:
        return False
    raise ValueError(f"{what}={raw} is not a yes/no value; use {BOOL_SPELLINGS}")

#: The repository's own ``data/`` folder (exists in a source checkout / editable install).
_REPO_DATA = Path(__file__).resolve().parent.parent / "data"


def set_seed(seed: int = 0) -> np.random.Generator:
    """Seed Python, NumPy and torch, and make torch deterministic on the CPU.

    Parameters
    ----------
    seed : int
        Non-negative integer seed.

    Returns
    -------
    numpy.random.Generator
        A generator seeded with the same ``seed``, for code that prefers explicit generators.

    Examples
    --------
    >>> rng = set_seed(1)
    >>> a = rng.normal(size=3)
    >>> b = set_seed(1).normal(size=3)
    >>> bool((a == b).all())
    True
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is in the lock file
        pass
    else:
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)


def get_device(device: str = "auto"):
    """Return the torch device to train on.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "mps"} or str
        ``"auto"`` picks CUDA, then Apple MPS, then the CPU. The CPU always works.

    Returns
    -------
    torch.device

    Examples
    --------
    >>> get_device("cpu").type
    'cpu'
    """
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'mps'"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is available; use 'auto' or 'cpu'")
    return dev


def fast_mode() -> bool:
    """Whether the notebooks run in their small, CI-sized mode.

    Reads the environment variable ``JETAD_FAST``: ``1/true/yes/on`` means fast,
    ``0/false/no/off`` or unset means full. Anything else is an error, so a typo never
    silently starts a full-size run.

    Returns
    -------
    bool

    Examples
    --------
    >>> import os
    >>> saved = os.environ.get("JETAD_FAST")
    >>> os.environ["JETAD_FAST"] = "1"; fast_mode()
    True
    >>> os.environ["JETAD_FAST"] = "off"; fast_mode()
    False
    >>> os.environ["JETAD_FAST"] = saved if saved is not None else ""
    """
    raw = os.environ.get("JETAD_FAST")
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"JETAD_FAST={raw!r} is not understood; set JETAD_FAST=1 for fast mode "
        "or JETAD_FAST=0 (or unset it) for full mode"
    )


def announce_mode(fast: bool, runtime: str | None = None) -> str:
    """Show which mode a notebook runs in and how to switch; return the text shown.

    Called right after ``FAST = fast_mode()`` in every notebook, so a student sees at the top of
    each run whether the small (fast) or the paper-sized (full) settings are in use.

    Parameters
    ----------
    fast : bool
        The mode, as returned by :func:`fast_mode`.
    runtime : str, optional
        The notebook's measured runtime in this mode (e.g. ``"about 1 min on 2 cores"``).

    Examples
    --------
    >>> text = announce_mode(True, "about 1 min")  # doctest: +ELLIPSIS
    FAST mode (JETAD_FAST=1): reduced samples and epochs, about 1 min. For the full-size run ...
    >>> "make lab FAST=1" in announce_mode(False)  # doctest: +ELLIPSIS
    FULL mode ...
    True
    """
    if fast:
        head = "FAST mode (JETAD_FAST=1): reduced samples and epochs"
        switch = ("For the full-size run (the paper's sample sizes, much longer): run "
                  "`%env JETAD_FAST=0` in a new cell at the top, then Run > Run All Cells "
                  "(or start JupyterLab with `make lab`).")
    else:
        head = "FULL mode (JETAD_FAST unset or 0): the paper-sized samples and trainings"
        switch = ("For a quick run with small samples: run `%env JETAD_FAST=1` in a new cell at "
                  "the top, then Run > Run All Cells (or start JupyterLab with `make lab FAST=1`).")
    text = head + (f", {runtime}." if runtime else ".") + " " + switch
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        import html

        colour = "#e8f4fd" if fast else "#fff4e5"
        body = html.escape(text).replace("`", "")
        display({"text/plain": text,
                 "text/html": f'<div style="background:{colour};border-left:4px solid '
                              f'#888;padding:6px 10px"><b>{html.escape(head)}</b>'
                              f'{body[len(html.escape(head)):]}</div>'}, raw=True)
    else:
        print(text)
    return text


#: seconds between progress-bar refreshes unless TQDM_MININTERVAL says otherwise: a refresh of a
#: notebook bar is several widget messages, and a flood of them can overflow a kernel's output
#: queue when nobody reads it fast enough (unattended runs on a loaded machine)
PROGRESS_MININTERVAL = 1.0


def progress_bar(total: int, desc: str, *, unit: str = "it", enabled: bool = True,
                 leave: bool = False):
    """The progress bar of every long loop in ``jetad_utils`` (tqdm: a widget in Jupyter).

    Refreshes at most every :data:`PROGRESS_MININTERVAL` seconds (``TQDM_MININTERVAL``
    overrides it). Advance it with ``bar.update(k)``; a loop that ends before ``total`` on
    purpose (early stopping) calls :func:`finish_early`, so the bar does not end red.
    """
    from tqdm.auto import tqdm

    options = {} if "TQDM_MININTERVAL" in os.environ else {"mininterval": PROGRESS_MININTERVAL}
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=leave, **options)


def finish_early(bar, note: str) -> None:
    """Mark a bar whose loop ended before its total on purpose as complete, with ``note``.

    tqdm draws a bar closed below its total in red, as after an error; after early stopping the
    bar's total becomes the iterations actually run and ``note`` (e.g. "early stop") is shown.

    >>> import io
    >>> from tqdm import tqdm
    >>> bar = tqdm(total=60, file=io.StringIO())
    >>> _ = bar.update(33); finish_early(bar, "early stop"); bar.close()
    >>> bar.n, bar.total, bar.postfix
    (33, 33, 'early stop')
    """
    bar.total = bar.n
    container = getattr(bar, "container", None)  # the notebook widget: its maximum too
    if container is not None:
        container.children[1].max = max(bar.n, 1)
    bar.set_postfix_str(note, refresh=False)
    bar.refresh()


def data_dir() -> Path:
    """Directory where generated data sets are cached.

    ``$JETAD_DATA`` if set (e.g. one shared, pre-generated directory on a JupyterHub),
    otherwise the repository's ``data/`` folder, otherwise ``~/.cache/jetad/data``.
    The directory is not created here; writers create it when they need to.

    Returns
    -------
    pathlib.Path
    """
    env = os.environ.get("JETAD_DATA")
    if env:
        return Path(env).expanduser().resolve()
    if _REPO_DATA.is_dir():
        return _REPO_DATA
    return Path.home() / ".cache" / "jetad" / "data"


def _writable(path: Path) -> bool:
    """True if ``path`` exists and is writable, or could be created."""
    path = Path(path)
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def checkpoint_dir() -> Path:
    """Directory for trained-model checkpoints and scan results.

    ``$JETAD_CHECKPOINTS`` if set; otherwise ``<data_dir>/checkpoints`` when that is
    writable; otherwise a per-user ``~/.cache/jetad/checkpoints`` (so a shared, read-only
    ``$JETAD_DATA`` is never written to).

    Returns
    -------
    pathlib.Path
    """
    env = os.environ.get("JETAD_CHECKPOINTS")
    if env:
        return Path(env).expanduser().resolve()
    candidate = data_dir() / "checkpoints"
    if _writable(candidate):
        return candidate
    return Path.home() / ".cache" / "jetad" / "checkpoints"


def check_between(name: str, value, lo: float, hi: float) -> float:
    """Assert that a number lies in ``[lo, hi]``; raise a clear error otherwise.

    Used inside notebooks so that a wrong physics result fails the notebook run (and CI)
    instead of printing quietly.

    Parameters
    ----------
    name : str
        What the number is, used in the message.
    value : float
        The number to check (a 0-d array or tensor is accepted).
    lo, hi : float
        Inclusive bounds; use ``-math.inf`` / ``math.inf`` for a one-sided check.

    Returns
    -------
    float
        ``value`` as a Python float, so the call can be used inline.

    Raises
    ------
    AssertionError
        If ``value`` is NaN or outside ``[lo, hi]``.

    Examples
    --------
    >>> check_between("AUC", 0.93, 0.9, 1.0)
    0.93
    >>> check_between("AUC", 0.42, 0.9, 1.0)
    Traceback (most recent call last):
    ...
    AssertionError: check failed: AUC = 0.42 is outside the expected range [0.9, 1]
    """
    if lo > hi:
        raise ValueError(f"check_between({name!r}): lo={lo} is larger than hi={hi}")
    v = float(value)
    _log_check(name, v, lo, hi)
    if math.isnan(v) or not (lo <= v <= hi):
        raise AssertionError(
            f"check failed: {name} = {v:.4g} is outside the expected range [{lo:.4g}, {hi:.4g}]"
        )
    return v


def _log_check(name: str, value: float, lo: float, hi: float) -> None:
    """Append one check to the JSON-lines file ``$JETAD_CHECK_LOG`` when it is set.

    ``tests/seed_sweep.py`` sets it to collect every check's value at several seeds, so that a
    check's margin can be compared with the measured seed-to-seed spread.
    """
    log = os.environ.get("JETAD_CHECK_LOG")
    if not log:
        return
    record = {"name": name, "value": value, "lo": lo, "hi": hi}
    with open(log, "a") as fh:
        fh.write(json.dumps(record, allow_nan=True) + "\n")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    For writers that want a file name rather than a handle (h5py). An exception or an
    interrupt inside the block removes the temporary file, so ``path`` is never half-written.
    The file gets the usual permissions (0666 minus the umask), so others can read a shared
    cache.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", **open_kwargs):
    """Open a temporary file next to ``path``; on success rename it onto ``path``.

    An exception (or an interrupt) inside the ``with`` block removes the temporary file, so a
    reader never sees a half-written ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_write(target, "w") as fh:
    ...     _ = fh.write("done")
    >>> target.read_text()
    'done'
    """
    with atomic_path(path) as tmp:
        with open(tmp, mode, **open_kwargs) as fh:
            yield fh


class NoSpaceError(OSError):
    """Not enough free disk space for a write; the message names the directory and the fix."""


def _human(nbytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(nbytes) < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} TB"  # pragma: no cover


def _existing_parent(path: Path) -> Path:
    path = Path(path)
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def check_free_space(directory, needed: float, what: str, fix: str) -> None:
    """Raise :class:`NoSpaceError` if ``directory``'s file system has less than ``needed`` bytes.

    ``what`` says what is to be written, ``fix`` what the user can do (both go in the message).

    >>> check_free_space(tempfile.gettempdir(), 1e30, "a test", "free some space")
    Traceback (most recent call last):
    ...
    jetad_utils._core.NoSpaceError: ...
    """
    where = _existing_parent(Path(directory))
    free = shutil.disk_usage(where).free
    if needed > free:
        raise NoSpaceError(errno.ENOSPC,
                           f"not enough disk space for {what} in {directory}: needs about "
                           f"{_human(needed)}, {_human(free)} free; {fix}")


def write_bytes_atomic(path, payload: bytes, *, what: str, fix: str) -> None:
    """Write ``payload`` to ``path`` atomically, or raise :class:`NoSpaceError` leaving nothing.

    The free space is checked first; a write that still fails for lack of space (another
    writer, a quota) is caught in Python, its temporary file removed, and reported with the
    directory and ``fix``. The data is flushed to disk before the rename.

    >>> target = Path(tempfile.mkdtemp()) / "x.bin"
    >>> write_bytes_atomic(target, b"abc", what="a test", fix="-"); target.read_bytes()
    b'abc'
    """
    path = Path(path)
    check_free_space(path.parent, len(payload), what, fix)
    try:
        with atomic_write(path) as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) and not isinstance(exc, NoSpaceError):
            free = shutil.disk_usage(_existing_parent(path.parent)).free
            raise NoSpaceError(exc.errno,
                               f"ran out of disk space writing {what} to {path.parent} "
                               f"({_human(len(payload))} to write, {_human(free)} free; nothing "
                               f"half-written was kept); {fix}") from exc
        raise


@contextlib.contextmanager
def file_lock(path, *, timeout: float = -1):
    """Exclusive inter-process lock on the file ``path`` (created if missing), released on exit.

    Processes asking for the same lock wait for each other (``timeout`` seconds, default
    forever). Works on every platform (``filelock``); the lock file is left in place, which is
    what keeps it safe for processes already waiting on it.
    """
    from filelock import FileLock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path), timeout=timeout):
        yield
