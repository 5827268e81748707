"""Simulated events for the notebooks: generated with Pythia 8 + FastJet, cached on disk.

>>> from jetad_utils import data
>>> data.datasets()
['events', 'jets', 'lhco']

``load(name, n, seed=0, **options)`` returns a dict of NumPy arrays (events along axis 0). The
first call generates the events (in parallel over the cores, with a progress bar) and caches
them; later calls read the cache. The data sets, their options, keys and units are documented
in ``data/README.md`` and by :func:`describe`.

How the cache works
-------------------
* A data set with given options and seed is a sequence of fixed-size **chunks**; chunk ``i``
  is generated with its own Pythia seed derived from (name, options, seed, i). ``load(n)``
  reads the first ``ceil(n / chunk)`` chunks and returns the first ``n`` events: asking for
  fewer events reads a prefix, asking for more generates only the missing chunks, and the
  events already returned never change.
* Files live in ``<data_dir>/<name>/<options>-<hash>/seed<S>/chunk_000123.h5``; beside each
  chunk a ``.json`` manifest records the settings, seed, package versions, sha256 and creation
  time. Changed options (or versions of the generators) give a different hash: a new set.
* Every chunk is written atomically (temporary file, then rename) and its manifest after it,
  so an interrupted run leaves no partial chunk. On reading, each chunk's sha256 is checked: a
  corrupt or truncated chunk is reported and regenerated.
* A file lock (``.lock`` in the seed directory) makes a second process asking for the same set
  wait and then read what the first one wrote, instead of generating it twice.
* A read-only data directory (one prepared directory shared by a workshop room through
  ``$JETAD_DATA``) is only read; anything missing is generated into a per-user cache
  (``~/.cache/jetad/data``) instead.

Command line: ``jetad-data list | describe | generate | verify | prepare`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import hashlib
import importlib
import json
import math
import multiprocessing as _mp
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._core import _writable, atomic_path, atomic_write, data_dir, progress_bar

__all__ = ["datasets", "describe", "load", "mix", "select_channel", "cache_path", "verify",
           "DataError", "PREPARE_PLAN", "main"]

#: Bump when a generator changes in a way that changes its events (invalidates caches).
DATA_FORMAT_VERSION = 1


def _user_cache() -> Path:
    """Per-user cache, used when the data directory is read-only."""
    return Path.home() / ".cache" / "jetad" / "data"


class DataError(RuntimeError):
    """A data set cannot be provided; the message says why and what to do."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    module: str
    function: str
    options_attr: str
    chunk_size: int
    summary: str
    keys: tuple
    events_per_second: float  # one core, MPI off: for time estimates
    bytes_per_event: float    # on disk: for size estimates
    extra: dict = field(default_factory=dict)

    def generator(self):
        return getattr(importlib.import_module(f"jetad_utils.{self.module}"), self.function)

    def options(self) -> dict:
        return getattr(importlib.import_module(f"jetad_utils.{self.module}"), self.options_attr)


_SPECS = {
    "jets": DatasetSpec(
        name="jets", module="gen_jets", function="generate_jets", options_attr="JETS_OPTIONS",
        chunk_size=500,
        summary="Boosted jets of ten classes (JetClass-like): the leading / matched anti-kt "
                "R=0.8 jet with 550 < pT < 650 GeV, |eta| < 2, its constituents and N-subjettiness",
        keys=("jet_pt", "jet_eta", "jet_phi", "jet_mass", "taus", "parts", "pid", "mask"),
        events_per_second=200.0, bytes_per_event=1200.0,
    ),
    "lhco": DatasetSpec(
        name="lhco", module="gen_jets", function="generate_lhco", options_attr="LHCO_OPTIONS",
        chunk_size=2000,
        summary="LHC-Olympics-R&D-like dijets: QCD, or W'(3.5 TeV) -> X(500) Y(100) -> 4 quarks; "
                "anti-kt R=1.0, leading jet pT > 1.2 TeV; mjj and the two jets' masses and tau ratios",
        keys=("mjj", "mj1", "mj2", "ptj1", "ptj2", "tau21_j1", "tau21_j2", "tau32_j1", "tau32_j2"),
        events_per_second=350.0, bytes_per_event=40.0,
    ),
    "events": DatasetSpec(
        name="events", module="gen_events", function="generate_events",
        options_attr="EVENTS_OPTIONS", chunk_size=1000,
        summary="Dark-Machines-like whole events as object lists (jets, b-jets, e, mu, photons "
                "and MET), SM backgrounds with cross-section weights and BSM signals",
        keys=("objects", "obj_id", "mask", "met", "ht", "weight"),
        events_per_second=600.0, bytes_per_event=250.0,
        # each chunk's weights sum to that chunk's cross-section estimate; load() rescales so
        # that the weights of the n loaded events sum to the (chunk-averaged) cross-section
        extra={"weight_key": "weight"},
    ),
}


def datasets() -> list[str]:
    """Names of the data sets :func:`load` knows."""
    return sorted(_SPECS)


def _spec(name) -> DatasetSpec:
    if name not in _SPECS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(datasets())}")
    return _SPECS[name]


def describe(name: str) -> str:
    """A short text: what the data set is, its options (default and allowed values), its keys."""
    spec = _spec(name)
    lines = [f"{name}: {spec.summary}", "options:"]
    for opt, (default, allowed) in spec.options().items():
        kind = ", ".join(map(str, allowed)) if isinstance(allowed, tuple) else allowed.__name__
        lines.append(f"  {opt} = {default!r}  ({kind})")
    lines.append("keys: " + ", ".join(spec.keys))
    return "\n".join(lines)


def _resolve_options(spec: DatasetSpec, options: dict) -> dict:
    table = spec.options()
    unknown = sorted(set(options) - set(table))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)} for data set {spec.name!r}; valid options: "
            + ", ".join(f"{k} (default {v[0]!r})" for k, v in table.items())
        )
    resolved = {}
    for opt, (default, allowed) in table.items():
        value = options.get(opt, default)
        if isinstance(allowed, tuple):
            if value not in allowed:
                raise ValueError(
                    f"{spec.name}: {opt}={value!r} is not valid; choose one of "
                    + ", ".join(map(str, allowed))
                )
        elif allowed is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{spec.name}: {opt} must be True or False, got {value!r}")
            value = bool(value)
        elif allowed is int:
            if isinstance(value, bool) or not float(value).is_integer():
                raise ValueError(f"{spec.name}: {opt} must be an integer, got {value!r}")
            value = int(value)
        elif allowed is float:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{spec.name}: {opt} must be a number, got {value!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"{spec.name}: {opt} must be finite, got {value!r}")
        resolved[opt] = value
    return resolved


def _check_count(n, what="n") -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        if isinstance(n, float) and n.is_integer() and n > 0:
            return int(n)
        raise ValueError(f"{what} must be a positive integer (a number of events), got {n!r}")
    if n <= 0:
        raise ValueError(f"{what} must be a positive integer (a number of events), got {n}")
    return int(n)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"format": DATA_FORMAT_VERSION}
    for pkg in ("pythia8mc", "fastjet", "awkward", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover
            out[pkg] = "missing"
    return out


def _tag(spec: DatasetSpec, options: dict) -> str:
    readable = "-".join(f"{k}={v}" for k, v in options.items() if isinstance(v, str)) or "default"
    digest = hashlib.sha256(json.dumps({"name": spec.name, "options": options,
                                        "chunk_size": spec.chunk_size,
                                        "versions": _versions()}, sort_keys=True).encode())
    return f"{readable}-{digest.hexdigest()[:12]}"


def cache_path(name: str, *, seed: int = 0, root=None, **options) -> Path:
    """Directory holding the chunks of a data set with these options and seed."""
    spec = _spec(name)
    opts = _resolve_options(spec, options)
    root = Path(root) if root is not None else data_dir()
    return root / name / _tag(spec, opts) / f"seed{int(seed)}"


def _chunk_seed(name: str, tag: str, seed: int, chunk: int) -> int:
    from .pythia_tools import MAX_PYTHIA_SEED

    h = hashlib.sha256(f"{name}|{tag}|{seed}|{chunk}".encode()).hexdigest()
    return 1 + int(h, 16) % (MAX_PYTHIA_SEED - 1)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _chunk_files(directory: Path, chunk: int) -> tuple[Path, Path]:
    return directory / f"chunk_{chunk:06d}.h5", directory / f"chunk_{chunk:06d}.json"


def _valid_chunk(directory: Path, chunk: int, size: int) -> tuple[bool, str]:
    """(ok, reason) for a cached chunk: present, complete and matching its checksum."""
    h5, meta = _chunk_files(directory, chunk)
    if not h5.exists() or not meta.exists():
        return False, "missing"
    try:
        manifest = json.loads(meta.read_text())
        if manifest.get("n") != size:
            return False, f"holds {manifest.get('n')} events instead of {size}"
        if _sha256(h5) != manifest["sha256"]:
            return False, "checksum mismatch (corrupt or truncated file)"
    except (OSError, ValueError, KeyError) as exc:
        return False, f"unreadable manifest ({exc})"
    return True, "ok"


def _read_chunk(h5: Path, keys) -> dict:
    import h5py

    with h5py.File(h5, "r") as fh:
        missing = [k for k in keys if k not in fh]
        if missing:
            raise DataError(f"{h5} lacks the key(s) {missing}; delete it to regenerate")
        return {k: fh[k][()] for k in fh.keys()}


def _write_chunk(directory: Path, chunk: int, arrays: dict, manifest: dict) -> None:
    import h5py

    h5, meta = _chunk_files(directory, chunk)
    with atomic_path(h5) as tmp:
        with h5py.File(tmp, "w") as fh:
            for key, value in arrays.items():
                value = np.asarray(value)
                if value.ndim > 1 and value.size > 1000:
                    fh.create_dataset(key, data=value, compression="lzf", shuffle=True)
                else:
                    fh.create_dataset(key, data=value)
    manifest = {**manifest, "sha256": _sha256(h5),
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    with atomic_write(meta, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)


def _generate_chunk(name: str, options: dict, n: int, pythia_seed: int) -> dict:
    """Run in a worker: one chunk of ``n`` events (a top-level function, so it pickles)."""
    spec = _SPECS[name]
    arrays = spec.generator()(n, pythia_seed, **options)
    missing = [k for k in spec.keys if k not in arrays]
    bad = {k: len(v) for k, v in arrays.items() if len(v) != n}
    if missing or bad:
        raise DataError(f"generator of {name!r} returned wrong keys/lengths: missing {missing}, "
                        f"lengths {bad} (expected {n})")
    return {k: np.asarray(v) for k, v in arrays.items()}


@contextlib.contextmanager
def _locked(directory: Path):
    """Exclusive inter-process lock on ``directory/.lock`` (released on exit)."""
    import fcntl

    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _roots() -> tuple[Path, Path | None]:
    """(root to read first, root to write to or None)."""
    primary = data_dir()
    if _writable(primary):
        return primary, primary
    fallback = _user_cache() if _writable(_user_cache()) else None
    return primary, fallback


def _run_chunks(name, options, tasks, *, jobs, dask, progress, total_events, desc):
    """Yield (chunk, arrays) for tasks [(chunk, n, pythia_seed)], in parallel if asked."""
    bar = progress_bar(total_events, desc, unit="ev", enabled=progress)
    try:
        if dask:
            from distributed import Client, as_completed

            client = dask if hasattr(dask, "submit") else Client(dask)
            futures = {client.submit(_generate_chunk, name, options, n, s, pure=False): (c, n)
                       for c, n, s in tasks}
            for fut in as_completed(futures):
                chunk, n = futures[fut]
                yield chunk, fut.result()
                bar.update(n)
            if client is not dask:
                client.close()
        elif jobs <= 1 or len(tasks) == 1:
            for chunk, n, s in tasks:
                yield chunk, _generate_chunk(name, options, n, s)
                bar.update(n)
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed as done

            from concurrent.futures.process import BrokenProcessPool

            with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)),
                                     mp_context=mp.get_context("spawn")) as pool:
                futures = {pool.submit(_generate_chunk, name, options, n, s): (c, n)
                           for c, n, s in tasks}
                try:
                    for fut in done(futures):
                        chunk, n = futures[fut]
                        yield chunk, fut.result()
                        bar.update(n)
                except BrokenProcessPool as exc:
                    raise DataError(
                        f"a worker process generating {name} events died before finishing (chunks "
                        "written so far are kept, nothing half-written). If this ran from a Python "
                        "script, its top-level code runs again in every worker: put it under "
                        "`if __name__ == \"__main__\":`. Otherwise the machine may be out of "
                        "memory: try jobs=1."
                    ) from exc
    finally:
        bar.close()


def load(name: str, n: int, *, seed: int = 0, jobs: int | None = None, dask=None,
         progress: bool = True, **options) -> dict[str, np.ndarray]:
    """The first ``n`` events of a data set, generated and cached on first use.

    Parameters
    ----------
    name : str
        One of :func:`datasets` (``"jets"``, ``"lhco"``, ``"events"``).
    n : int
        Number of events (jets for ``"jets"``), positive.
    seed : int
        Non-negative; different seeds give independent samples.
    jobs : int, optional
        Worker processes for generation (default: all cores).
    dask : str or distributed.Client, optional
        Send the chunks to a Dask cluster (scheduler address or client) instead.
    progress : bool
        Show a tqdm bar while generating.
    **options
        Data-set options, e.g. ``cls="top"`` for ``"jets"`` (see :func:`describe`).

    Returns
    -------
    dict of str -> numpy.ndarray
        Each array has ``n`` rows; keys and units in ``data/README.md``. For ``"events"``,
        ``weight`` is the cross-section per event in pb: it sums to the process's
        cross-section over the ``n`` events returned.

    Raises
    ------
    ValueError
        Unknown data set or option, bad ``n`` or ``seed`` (the message lists valid choices).
    DataError
        The data cannot be read or written, or a generation worker died (the message says
        what to do). Generation workers are started with "spawn" and import a calling script
        again: call ``load`` from a script under ``if __name__ == "__main__":`` (or ``jobs=1``).
    """
    spec = _spec(name)
    n = _check_count(n)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    opts = _resolve_options(spec, options)
    tag = _tag(spec, opts)
    size = spec.chunk_size
    n_chunks = math.ceil(n / size)
    read_root, write_root = _roots()
    read_dir = read_root / name / tag / f"seed{int(seed)}"
    write_dir = write_root / name / tag / f"seed{int(seed)}" if write_root else None

    def locate(chunk):
        for directory in dict.fromkeys(d for d in (read_dir, write_dir) if d is not None):
            ok, reason = _valid_chunk(directory, chunk, size)
            if ok:
                return directory, reason
        return None, reason

    found, todo = {}, []
    for chunk in range(n_chunks):
        where, reason = locate(chunk)
        if where is None:
            todo.append(chunk)
            if reason != "missing":
                warnings.warn(f"{name} ({tag}) seed {seed} chunk {chunk}: {reason}; "
                              "regenerating it", stacklevel=2)
        else:
            found[chunk] = where

    if todo:
        if write_dir is None:
            raise DataError(
                f"{name} ({', '.join(f'{k}={v}' for k, v in opts.items())}) with seed {seed} needs "
                f"{len(todo)} more chunk(s) of {size} events, but {read_root} is read-only and "
                f"{_user_cache()} cannot be created. Set JETAD_DATA to a writable directory, or ask "
                "whoever prepared the shared directory to run `jetad-data prepare`."
            )
        if write_root != read_root:
            warnings.warn(f"{read_root} is read-only: generating the missing {name} events into "
                          f"{write_root}", stacklevel=2)
        if getattr(_mp.current_process(), "_inheriting", False):
            # A generation worker (started with "spawn") is importing the user's script, whose
            # top-level code called load() again: the parent holds the lock, so waiting for it
            # would hang forever. Fail with the fix instead.
            raise DataError(
                f"load({name!r}) was called while a worker process was importing the script "
                f"{getattr(sys.modules.get('__mp_main__'), '__file__', '(your script)')}: the workers "
                "that generate events import the main script again. Put the script's code under "
                "`if __name__ == \"__main__\":`, or pass jobs=1."
            )
        try:
            with _locked(write_dir):
                # another process may have written them while we waited for the lock
                still = [c for c in todo if not _valid_chunk(write_dir, c, size)[0]]
                tasks = [(c, size, _chunk_seed(name, tag, int(seed), c)) for c in still]
                base = {"dataset": name, "options": opts, "seed": int(seed),
                        "versions": _versions(), "n": size}
                jobs = jobs or os.cpu_count() or 1
                for chunk, arrays in _run_chunks(name, opts, tasks, jobs=jobs, dask=dask,
                                                 progress=progress, total_events=size * len(tasks),
                                                 desc=f"generating {name} ({tag.split('-')[0]})"):
                    _write_chunk(write_dir, chunk, arrays,
                                 {**base, "chunk": chunk,
                                  "pythia_seed": _chunk_seed(name, tag, int(seed), chunk)})
        except OSError as exc:
            raise DataError(f"cannot write the {name} cache in {write_dir} ({exc.strerror or exc}); "
                            "make it writable or set JETAD_DATA to a directory you own") from exc
        for c in todo:
            found[c] = write_dir

    parts = []
    for chunk in range(n_chunks):
        h5, _ = _chunk_files(found[chunk], chunk)
        try:
            parts.append(_read_chunk(h5, spec.keys))
        except OSError as exc:
            raise DataError(f"cannot read {h5} ({exc}); delete it and load again to regenerate") from exc
    keys = parts[0].keys()
    out = {k: np.concatenate([p[k] for p in parts])[:n] for k in keys}
    weight_key = spec.extra.get("weight_key")
    if weight_key:  # per-event cross-section: sum over the n events = sigma (see _SPECS)
        out[weight_key] = out[weight_key] * (size / n)
    return out


def mix(background: dict, signal: dict, *, n_signal: int | None = None,
        s_over_b: float | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Mix background and signal events into one shuffled sample with a ``label`` array.

    Parameters
    ----------
    background, signal : dict of str -> ndarray
        Samples with the same keys (e.g. two :func:`load` results).
    n_signal : int, optional
        Number of signal events to inject (from the start of ``signal``).
    s_over_b : float, optional
        Or the signal-to-background ratio S/B; exactly one of the two.
    seed : int
        Seeds the shuffle.

    Returns
    -------
    dict
        Every key of the inputs, concatenated and shuffled, plus ``label`` (0 background,
        1 signal).

    Examples
    --------
    >>> b = {"mjj": np.arange(10.0)}; s = {"mjj": np.array([100.0, 200.0])}
    >>> m = mix(b, s, s_over_b=0.1)
    >>> int(m["label"].sum()), len(m["mjj"])
    (1, 11)
    """
    if (n_signal is None) == (s_over_b is None):
        raise ValueError("give exactly one of n_signal= or s_over_b=")
    if set(background) != set(signal):
        raise ValueError(f"background and signal have different keys: "
                         f"{sorted(set(background) ^ set(signal))}")
    n_b = len(next(iter(background.values())))
    if n_signal is None:
        if not (s_over_b >= 0):
            raise ValueError(f"s_over_b must be non-negative, got {s_over_b}")
        n_signal = int(round(s_over_b * n_b))
    n_avail = len(next(iter(signal.values())))
    if not 0 <= n_signal <= n_avail:
        raise ValueError(f"asked for {n_signal} signal events but the signal sample has {n_avail}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_b + n_signal)
    out = {k: np.concatenate([background[k], signal[k][:n_signal]])[order] for k in background}
    out["label"] = np.r_[np.zeros(n_b, dtype=np.int8), np.ones(n_signal, dtype=np.int8)][order]
    return out


def select_channel(data: dict, channel: str) -> dict:
    """Dark Machines channel cuts on ``"events"`` data (see :mod:`jetad_utils.gen_events`)."""
    from .gen_events import select_channel as _select

    return _select(data, channel)


# ----------------------------------------------------------------------------- maintenance


def verify(root=None) -> list[tuple[Path, str]]:
    """Check every cached chunk under ``root`` (default :func:`data_dir`) against its checksum.

    Returns
    -------
    list of (path, problem)
        Empty when everything is intact.
    """
    root = Path(root) if root is not None else data_dir()
    problems = []
    for meta in sorted(root.glob("*/*/seed*/chunk_*.json")):
        chunk = int(meta.stem.split("_")[1])
        try:
            size = json.loads(meta.read_text())["n"]
        except (OSError, ValueError, KeyError) as exc:
            problems.append((meta, f"unreadable manifest ({exc})"))
            continue
        ok, reason = _valid_chunk(meta.parent, chunk, size)
        if not ok:
            problems.append((meta.with_suffix(".h5"), reason))
    for h5 in sorted(root.glob("*/*/seed*/chunk_*.h5")):
        if not h5.with_suffix(".json").exists():
            problems.append((h5, "no manifest (interrupted write?)"))
    return problems


#: What the notebooks read, as (name, options, n in full mode, n in fast mode). `prepare`
#: generates it once (e.g. into a shared $JETAD_DATA for a workshop room).
PREPARE_PLAN = [
    *[("jets", {"cls": c}, 100_000 if c in ("qcd", "top", "w") else 20_000,
       5_000 if c == "qcd" else 1_000)
      for c in ("qcd", "top", "w", "z", "hbb", "hcc", "hgg", "h4q", "hlqq", "tbl")],
    ("lhco", {"process": "qcd"}, 200_000, 20_000),
    ("lhco", {"process": "signal"}, 20_000, 2_000),
]


#: measured rows per second on one core (MPI off) where they differ from the data set's default
_RATES = {("lhco", "qcd"): 60.0, ("lhco", "signal"): 370.0, ("jets", "qcd"): 48.0,
          ("jets", "hlqq"): 120.0, ("jets", "tbl"): 80.0}

#: seconds each data set of `prepare` costs besides its events (starting the workers, importing
#: and initialising Pythia): measured with `prepare --fast` from an empty cache on 2 cores, where
#: the rates above (lhco, jets qcd, the channel samples) were also re-measured
_SET_OVERHEAD_SECONDS = 3.0


#: events channel samples (``channel=``): passing events per second on one core, measured
#: rate x channel efficiency with the channel's generator cuts (jetad_utils.gen_events)
_CHANNEL_RATES = {("ttbar_boosted", "3"): 37.0, ("wjets", "3"): 26.0, ("znunu", "3"): 29.0,
                  ("ttbar_boosted", "1"): 11.0, ("wjets", "1"): 7.0, ("znunu", "1"): 14.0}


def _rate(name: str, options: dict) -> float:
    if name == "events" and options.get("channel", "all") != "all":
        return _CHANNEL_RATES.get((options.get("process"), options["channel"]), 10.0)
    for value in options.values():
        if (name, value) in _RATES:
            return _RATES[(name, value)]
    return _SPECS[name].events_per_second


def _plan_estimate(plan, jobs):
    secs = (sum(n / _rate(name, opts) for name, opts, n in plan) / max(jobs, 1)
            + _SET_OVERHEAD_SECONDS * len(plan))
    size = sum(n * _SPECS[name].bytes_per_event for name, _, n in plan)
    return secs, size


def _events_plan():
    """Every Dark-Machines-like process: (name, options, n full, n fast)."""
    from .gen_events import BACKGROUNDS, SIGNALS

    plain = [("events", {"process": p}, 50_000, 2_000) for p in (*BACKGROUNDS, *SIGNALS)]
    # channel samples of notebook 05 (jetad_utils.sets.CHANNEL_BACKGROUNDS): (channel, process,
    # n full, n fast); n fast = 0 means full mode only
    channel = [("3", "ttbar_boosted", 10_000, 2_000), ("3", "wjets", 10_000, 1_000),
               ("3", "znunu", 10_000, 1_000), ("1", "ttbar_boosted", 5_000, 0),
               ("1", "wjets", 5_000, 0), ("1", "znunu", 5_000, 0)]
    return plain + [("events", {"process": p, "channel": c}, n_full, n_fast)
                    for c, p, n_full, n_fast in channel]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="jetad-data",
        description="Generate, cache and check the simulated events of the jetad notebooks.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the data sets")
    d = sub.add_parser("describe", help="options and keys of a data set")
    d.add_argument("name")
    g = sub.add_parser("generate", help="generate (or extend) a data set in the cache")
    g.add_argument("name")
    g.add_argument("--n", type=int, required=True, help="number of events")
    g.add_argument("--cls", help="jet class (data set 'jets')")
    g.add_argument("--process", help="process (data sets 'lhco' and 'events')")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other option, e.g. --set mpi=true --set pt_min=500")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    g.add_argument("--dask", metavar="ADDRESS", help="send the chunks to this Dask scheduler")
    v = sub.add_parser("verify", help="check every cached file against its checksum")
    v.add_argument("--root", type=Path, default=None)
    p = sub.add_parser(
        "prepare", help="generate everything the notebooks need (full mode, or --fast)",
        description="Generate every data set the notebooks read, at the sizes of full mode (or "
                    "of fast mode with --fast), into $JETAD_DATA (or the default data folder). "
                    "Prints the plan, the size on disk and the estimated time, and asks first. "
                    "What is cached already is kept.")
    p.add_argument("--fast", action="store_true", help="only the small fast-mode sets")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes on this machine (default: all cores)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="send the chunks to this Dask scheduler (e.g. tcp://host:8786) instead")
    args = parser.parse_args(argv)

    try:
        if args.command == "list":
            for name in datasets():
                print(f"{name:8s} {_SPECS[name].summary}")
            return 0
        if args.command == "describe":
            print(describe(args.name))
            return 0
        if args.command == "generate":
            options = {}
            if args.cls is not None:
                options["cls"] = args.cls
            if args.process is not None:
                options["process"] = args.process
            table = _spec(args.name).options()
            for item in args.set:
                key, sep, raw = item.partition("=")
                if not sep or key not in table:
                    raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of "
                                     + ", ".join(table))
                kind = table[key][1]
                options[key] = (raw.lower() in ("1", "true", "yes", "on")) if kind is bool else raw
                if kind in (int, float):
                    options[key] = float(raw)
            start = time.perf_counter()
            out = load(args.name, args.n, seed=args.seed, jobs=args.jobs, dask=args.dask, **options)
            print(f"{args.name}: {len(next(iter(out.values())))} events ready in "
                  f"{cache_path(args.name, seed=args.seed, root=_roots()[1] or _roots()[0], **options)} "
                  f"({time.perf_counter() - start:.1f} s)")
            return 0
        if args.command == "verify":
            problems = verify(args.root)
            root = args.root or data_dir()
            n_files = len(list(Path(root).glob("*/*/seed*/chunk_*.h5")))
            for path, why in problems:
                print(f"BAD  {path}: {why}", file=sys.stderr)
            if problems:
                print(f"{len(problems)} problem(s) in {root}; `jetad-data generate` (or any "
                      "load) regenerates bad chunks", file=sys.stderr)
                return 1
            print(f"{n_files} cached chunk(s) in {root}: all checksums match")
            return 0
        if args.command == "prepare":
            jobs = args.jobs or os.cpu_count() or 1
            plan = [(name, opts, n_fast if args.fast else n_full)
                    for name, opts, n_full, n_fast in [*PREPARE_PLAN, *_events_plan()]
                    if (n_fast if args.fast else n_full) > 0]
            secs, size = _plan_estimate(plan, jobs)
            target = _roots()[1] or data_dir()
            print(f"jetad-data prepare ({'fast' if args.fast else 'full'} mode) into {target}:")
            for name, opts, n in plan:
                print(f"  {name:7s} {', '.join(f'{k}={v}' for k, v in opts.items()):22s} {n:>9,d} events")
            print(f"estimated: {size / 1e9:.2f} GB on disk, {secs / 60:.0f} min with {jobs} "
                  "worker(s) (less for what is cached already)")
            if not args.yes:
                if not sys.stdin.isatty():
                    print("not confirmed (no terminal): rerun with --yes", file=sys.stderr)
                    return 1
                if input("continue? [y/N] ").strip().lower() not in ("y", "yes"):
                    print("nothing done")
                    return 1
            start = time.perf_counter()
            for name, opts, n in plan:
                load(name, n, jobs=jobs, dask=args.dask, **opts)
                print(f"  done: {name} {opts} {n} events")
            minutes = (time.perf_counter() - start) / 60
            print(f"\nprepared {len(plan)} data sets ({'fast' if args.fast else 'full'} mode) in "
                  f"{target} in {minutes:.1f} min (estimated {secs / 60:.0f} min).\n"
                  f"Next, for a room sharing it: make it read-only for everyone else,\n"
                  f"  sudo chmod -R a+rX,go-w {target}\n"
                  f"and give every student JETAD_DATA={target} (README: For instructors).")
            return 0
    except (ValueError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished chunks are kept, nothing half-written", file=sys.stderr)
        return 130
    return 0  # pragma: no cover


if __name__ == "__main__":
    raise SystemExit(main())
