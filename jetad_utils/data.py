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
* Every chunk is written atomically (built in memory, written to a temporary file, renamed)
  and its manifest after it, so an interrupted run or a full disk leaves no partial chunk. On
  reading, each chunk's sha256 and identity (data set, options, seed, index, Pythia seed, size,
  versions in its manifest) are checked: a corrupt chunk, or one copied from elsewhere, is
  reported and regenerated.
* Requests are checked before any work: options, the number of events (:data:`MAX_EVENTS`),
  the free disk space against the estimated size.
* A file lock (``.lock`` in the seed directory) makes a second process asking for the same set
  wait and then read what the first one wrote, instead of generating it twice.
* A read-only data directory (one prepared directory shared by a workshop room through
  ``$JETAD_DATA``) is only read; anything missing is generated into a per-user cache
  (``~/.cache/jetad/data``) instead.

Command line: ``jetad-data list | describe | generate | verify | clean | prepare`` (see
``--help``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import hashlib
import importlib
import io
import json
import math
import multiprocessing as _mp
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._core import (
    BOOL_SPELLINGS,
    NoSpaceError,
    _human,
    _writable,
    check_free_space,
    data_dir,
    file_lock,
    parse_bool,
    progress_bar,
    write_bytes_atomic,
)

__all__ = ["datasets", "describe", "load", "mix", "select_channel", "cache_path", "verify",
           "clean", "DataError", "PREPARE_PLAN", "MAX_EVENTS", "main"]

#: Bump when a generator changes in a way that changes its events (invalidates caches).
DATA_FORMAT_VERSION = 1

#: The most events one call may ask for: 50 times the largest sample a notebook reads (about
#: two days of one core for ``lhco`` QCD). Set ``$JETAD_MAX_EVENTS`` to allow more.
MAX_EVENTS = 10_000_000

#: Seconds to wait for a Dask scheduler to answer, and for it to have at least one worker (also
#: the longest time a running generation waits with no workers or no scheduler before giving
#: up); ``$JETAD_DASK_TIMEOUT`` overrides the second.
DASK_CONNECT_SECONDS = 10.0
DASK_NO_WORKER_SECONDS = 60.0


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
    checker: str = ""         # function of `module` that refuses unusable options, before any work
    extra: dict = field(default_factory=dict)

    def generator(self):
        return getattr(importlib.import_module(f"jetad_utils.{self.module}"), self.function)

    def check(self, options: dict) -> None:
        if self.checker:
            getattr(importlib.import_module(f"jetad_utils.{self.module}"), self.checker)(**options)

    def options(self) -> dict:
        return getattr(importlib.import_module(f"jetad_utils.{self.module}"), self.options_attr)


_SPECS = {
    "jets": DatasetSpec(
        name="jets", module="gen_jets", function="generate_jets", options_attr="JETS_OPTIONS",
        chunk_size=500,
        summary="Boosted jets of ten classes (JetClass-like): the leading / matched anti-kt "
                "R=0.8 jet with 550 < pT < 650 GeV, |eta| < 2, its constituents and N-subjettiness",
        keys=("jet_pt", "jet_eta", "jet_phi", "jet_mass", "taus", "parts", "pid", "mask"),
        events_per_second=200.0, bytes_per_event=1200.0, checker="check_jets_options",
    ),
    "lhco": DatasetSpec(
        name="lhco", module="gen_jets", function="generate_lhco", options_attr="LHCO_OPTIONS",
        chunk_size=2000,
        summary="LHC-Olympics-R&D-like dijets: QCD, or W'(3.5 TeV) -> X(500) Y(100) -> 4 quarks; "
                "anti-kt R=1.0, leading jet pT > 1.2 TeV; mjj and the two jets' masses and tau ratios",
        keys=("mjj", "mj1", "mj2", "ptj1", "ptj2", "tau21_j1", "tau21_j2", "tau32_j1", "tau32_j2"),
        events_per_second=350.0, bytes_per_event=40.0, checker="check_lhco_options",
    ),
    "events": DatasetSpec(
        name="events", module="gen_events", function="generate_events",
        options_attr="EVENTS_OPTIONS", chunk_size=1000,
        summary="Dark-Machines-like whole events as object lists (jets, b-jets, e, mu, photons "
                "and MET), SM backgrounds with cross-section weights and BSM signals",
        keys=("objects", "obj_id", "mask", "met", "ht", "weight"),
        events_per_second=600.0, bytes_per_event=250.0, checker="check_events_options",
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
    try:
        spec.check(resolved)
    except ValueError as exc:
        raise ValueError(f"{spec.name}: {exc}") from None
    return resolved


def _check_count(n, what="n") -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        if isinstance(n, float) and n.is_integer() and n > 0:
            n = int(n)
        else:
            raise ValueError(f"{what} must be a positive integer (a number of events), got {n!r}")
    if n <= 0:
        raise ValueError(f"{what} must be a positive integer (a number of events), got {n}")
    return int(n)


def _check_seed(seed) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _check_jobs(jobs) -> int:
    """``None`` -> all cores; else a positive integer."""
    if jobs is None:
        return os.cpu_count() or 1
    if isinstance(jobs, (bool, np.bool_)) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer (worker processes) or None for all "
                         f"cores, got {jobs!r}")
    return int(jobs)


def _max_events() -> int:
    raw = os.environ.get("JETAD_MAX_EVENTS")
    if not raw:
        return MAX_EVENTS
    try:
        return _check_count(int(raw), "JETAD_MAX_EVENTS")
    except ValueError:
        raise ValueError(f"JETAD_MAX_EVENTS={raw!r} must be a positive integer") from None


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"format": DATA_FORMAT_VERSION}
    for pkg in ("pythia8mc", "fastjet", "awkward", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover
            out[pkg] = "missing"
    return out


def _tag(spec: DatasetSpec, options: dict, versions: dict | None = None) -> str:
    readable = "-".join(f"{k}={v}" for k, v in options.items() if isinstance(v, str)) or "default"
    digest = hashlib.sha256(json.dumps({"name": spec.name, "options": options,
                                        "chunk_size": spec.chunk_size,
                                        "versions": versions or _versions()},
                                       sort_keys=True).encode())
    return f"{readable}-{digest.hexdigest()[:12]}"


def cache_path(name: str, *, seed: int = 0, root=None, **options) -> Path:
    """Directory holding the chunks of a data set with these options and seed."""
    spec = _spec(name)
    opts = _resolve_options(spec, options)
    root = Path(root) if root is not None else data_dir()
    return root / name / _tag(spec, opts) / f"seed{_check_seed(seed)}"


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


def _identity(name: str, options: dict, tag: str, seed: int, chunk: int, size: int,
              versions: dict | None = None) -> dict:
    """Everything a chunk's manifest must say for it to be chunk ``chunk`` of this set."""
    return {"dataset": name, "options": json.loads(json.dumps(options)), "seed": seed,
            "chunk": chunk, "pythia_seed": _chunk_seed(name, tag, seed, chunk), "n": size,
            "versions": versions or _versions()}


def _read_manifest(meta: Path) -> tuple[dict | None, str]:
    """(manifest, "") or (None, why it is unusable)."""
    try:
        manifest = json.loads(meta.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return None, f"unreadable manifest ({exc})"
    if not isinstance(manifest, dict):
        return None, f"its manifest is not a JSON object (holds a {type(manifest).__name__})"
    return manifest, ""


def _chunk_problem(directory: Path, chunk: int, identity: dict) -> str:
    """"" if the cached chunk is present, intact and is the chunk ``identity`` describes; else why.

    The manifest must state the same data set, resolved options, seed, chunk index, Pythia
    seed, number of events and package versions; the file's sha256 must match the manifest's.
    A chunk copied from another seed, another index or another set is thus refused.
    """
    h5, meta = _chunk_files(directory, chunk)
    if not h5.exists() or not meta.exists():
        return "missing"
    manifest, why = _read_manifest(meta)
    if manifest is None:
        return why
    for key, want in identity.items():
        have = manifest.get(key)
        if have != want or type(have) is not type(want):
            if key == "n":
                return f"holds {have!r} events instead of {want}"
            return (f"its manifest says {key}={have!r}, not {want!r} (a file of another "
                    f"{'set' if key in ('dataset', 'options', 'versions') else key} copied here?)")
    if not isinstance(manifest.get("sha256"), str):
        return "its manifest has no checksum"
    try:
        if _sha256(h5) != manifest["sha256"]:
            return "checksum mismatch (corrupt or truncated file)"
    except OSError as exc:
        return f"unreadable file ({exc})"
    return ""


def _read_chunk(h5: Path, keys) -> dict:
    import h5py

    with h5py.File(h5, "r") as fh:
        missing = [k for k in keys if k not in fh]
        if missing:
            raise DataError(f"{h5} lacks the key(s) {missing}; delete it to regenerate")
        return {k: fh[k][()] for k in fh.keys()}


_SPACE_FIX = "free some space, or set JETAD_DATA to a directory on a disk with room"


def _write_chunk(directory: Path, chunk: int, arrays: dict, manifest: dict) -> None:
    """Write a chunk and then its manifest, each atomically; on any error nothing is left.

    The HDF5 file is built in memory and written by Python, so a full disk is an ordinary
    error with a message (h5py writing to a full disk itself can crash the process).
    """
    import h5py

    h5, meta = _chunk_files(directory, chunk)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as fh:
        for key, value in arrays.items():
            value = np.asarray(value)
            if value.ndim > 1 and value.size > 1000:
                fh.create_dataset(key, data=value, compression="lzf", shuffle=True)
            else:
                fh.create_dataset(key, data=value)
    payload = buffer.getvalue()
    manifest = {**manifest, "sha256": hashlib.sha256(payload).hexdigest(),
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    what = f"chunk {chunk} of {manifest['dataset']}"
    write_bytes_atomic(h5, payload, what=what, fix=_SPACE_FIX)
    try:
        write_bytes_atomic(meta, json.dumps(manifest, indent=1, sort_keys=True).encode(),
                           what=f"the manifest of {what}", fix=_SPACE_FIX)
    except BaseException:
        h5.unlink(missing_ok=True)  # a chunk without its manifest is litter
        raise


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
def _locked(directory: Path, timeout: float = -1):
    """Exclusive inter-process lock on ``directory/.lock`` (released on exit)."""
    with file_lock(Path(directory) / ".lock", timeout=timeout):
        yield


def _remove_orphans(directory: Path) -> list[Path]:
    """Delete temporary files a killed writer left in ``directory`` (call with its lock held)."""
    removed = []
    for tmp in directory.glob(".chunk_*.tmp"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def _drop_if_empty(directory: Path) -> None:
    """Remove a seed directory that holds nothing but its lock (a generation that wrote nothing).

    Called with the lock held. A process already waiting for this lock then holds a lock on the
    removed file while a newcomer locks a new one: both may generate the same chunks, which is
    harmless (chunks are deterministic and written atomically), only wasted work.
    """
    with contextlib.suppress(OSError):
        if all(p.name == ".lock" for p in directory.iterdir()):
            (directory / ".lock").unlink(missing_ok=True)
            directory.rmdir()
            directory.parent.rmdir()  # the options directory, if this was its only seed


def _roots() -> tuple[Path, Path | None]:
    """(root to read first, root to write to or None)."""
    primary = data_dir()
    if _writable(primary):
        return primary, primary
    fallback = _user_cache() if _writable(_user_cache()) else None
    return primary, fallback


# ----------------------------------------------------------------------------- workers


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:  # the parent died: we were handed to init
            os._exit(1)


def _worker_init(parent: int) -> None:
    """Started in every generation worker: end with the parent, leave Ctrl-C to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:  # the kernel kills us when the parent dies (kill -9 included)
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover
            pass
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _stop_workers(pool) -> None:
    """Cancel what is pending and end the pool's processes now (not after their chunks)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()
    deadline = time.monotonic() + 5
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()


def _main_script_problem() -> str:
    """Why spawned workers cannot start from this main module, or ""."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path is None or getattr(main, "__spec__", None) is not None or hasattr(sys, "ps1"):
        return ""
    if not os.path.exists(path):
        return (f"the main script is {path!r}, read from standard input or a pipe: worker processes "
                "start by importing the main script again, and this one is not a file. Save the "
                "script to a file and run `python script.py`, or pass jobs=1")
    return ""


def _dask_timeout() -> float:
    raw = os.environ.get("JETAD_DASK_TIMEOUT")
    if not raw:
        return DASK_NO_WORKER_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"JETAD_DASK_TIMEOUT={raw!r} must be a positive number of seconds")
    return value


def _dask_client(dask):
    """(client, owned): connect to the scheduler at ``dask`` quickly, with a clear error."""
    if hasattr(dask, "submit"):
        return dask, False
    if not isinstance(dask, str) or not dask.strip():
        raise ValueError(f"dask must be a scheduler address like tcp://HOST:8786 or a "
                         f"distributed.Client, got {dask!r}")
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover
        raise DataError("dask= needs the `distributed` package (pip install distributed)") from exc
    try:
        client = Client(dask, timeout=f"{DASK_CONNECT_SECONDS}s", set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - refused, timed out, or not a scheduler at all
        raise DataError(
            f"cannot connect to a Dask scheduler at {dask} within {DASK_CONNECT_SECONDS:g} s "
            f"({type(exc).__name__}: {str(exc)[:200] or 'no answer'}). Check the address (e.g. "
            f"tcp://HOST:8786) and that `dask scheduler` runs there with `dask worker {dask}` "
            "connected to it, or leave out --dask / dask= to generate on this machine."
        ) from None
    return client, True


def _close_quietly(client) -> None:
    with contextlib.suppress(Exception):
        client.close(timeout=2)


def _dask_chunks(client, address, name, options, tasks):
    """Yield (chunk, arrays) from a Dask cluster; fail clearly when it is gone for too long."""
    limit = _dask_timeout()
    try:
        client.wait_for_workers(1, timeout=limit)
    except Exception:  # noqa: BLE001 - TimeoutError, or the scheduler went away
        raise DataError(f"the Dask scheduler at {address} has no workers (waited {limit:g} s): "
                        f"start some with `dask worker {address}`") from None
    futures = {client.submit(_generate_chunk, name, options, n, s, pure=False): (c, n)
               for c, n, s in tasks}
    pending, trouble_since, check_at = set(futures), None, 0.0
    try:
        while pending:
            finished = [f for f in pending if f.done()]
            for fut in finished:
                pending.discard(fut)
                chunk, n = futures[fut]
                if fut.status == "error":
                    exc = fut.exception()
                    if isinstance(exc, (DataError, ValueError, RuntimeError, MemoryError)):
                        raise exc
                    raise DataError(f"a Dask worker failed generating chunk {chunk} of {name}: "
                                    f"{type(exc).__name__}: {exc}")
                if fut.status != "finished":
                    raise DataError(f"the Dask cluster at {address} lost chunk {chunk} of {name} "
                                    f"(status {fut.status}); the chunks written so far are kept: "
                                    "run again to go on")
                yield chunk, fut.result()
            if finished:
                trouble_since = None
                continue
            time.sleep(0.2)
            if time.monotonic() < check_at:
                continue
            check_at = time.monotonic() + 1.0
            try:
                alive = client.status == "running" and bool(client.scheduler_info()["workers"])
            except Exception:  # noqa: BLE001
                alive = False
            if alive:
                trouble_since = None
            elif trouble_since is None:
                trouble_since = time.monotonic()
            elif time.monotonic() - trouble_since > limit:
                what = ("lost the connection to the scheduler" if client.status != "running"
                        else "has had no workers")
                raise DataError(
                    f"the Dask cluster at {address} {what} for {limit:g} s while generating "
                    f"{name} ({len(pending)} chunk(s) not done). The chunks written so far are "
                    "kept and the cache is unlocked: restart the scheduler / workers and run "
                    "again, or generate without Dask."
                )
    finally:
        if pending and client.status == "running":
            with contextlib.suppress(Exception):
                client.cancel(list(pending))


def _run_chunks(name, options, tasks, *, jobs, client, address, progress, total_events, desc):
    """Yield (chunk, arrays) for tasks [(chunk, n, pythia_seed)], in parallel if asked."""
    if not tasks:  # another process generated them while we waited for the lock
        return
    bar = progress_bar(total_events, desc, unit="ev", enabled=progress)
    try:
        if client is not None:
            for chunk, arrays in _dask_chunks(client, address, name, options, tasks):
                yield chunk, arrays
                bar.update(len(next(iter(arrays.values()))))
        elif jobs <= 1 or len(tasks) == 1:
            for chunk, n, s in tasks:
                yield chunk, _generate_chunk(name, options, n, s)
                bar.update(n)
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor
            from concurrent.futures import as_completed as done
            from concurrent.futures.process import BrokenProcessPool

            pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)),
                                       mp_context=mp.get_context("spawn"),
                                       initializer=_worker_init, initargs=(os.getpid(),))
            try:
                futures = {pool.submit(_generate_chunk, name, options, n, s): (c, n)
                           for c, n, s in tasks}
                for fut in done(futures):
                    chunk, n = futures[fut]
                    yield chunk, fut.result()
                    bar.update(n)
            except BrokenProcessPool as exc:
                _stop_workers(pool)
                raise DataError(
                    f"a worker process generating {name} events died before finishing (chunks "
                    "written so far are kept, nothing half-written). If this ran from a Python "
                    "script, its top-level code runs again in every worker: put it under "
                    "`if __name__ == \"__main__\":`. Otherwise the machine may be out of "
                    "memory: try jobs=1."
                ) from exc
            except BaseException:  # Ctrl-C, an error writing a chunk, the caller stopping
                _stop_workers(pool)
                raise
            pool.shutdown(wait=True)
    finally:
        bar.close()


# ----------------------------------------------------------------------------- load


def _estimate(name: str, options: dict, n_events: int, jobs: int) -> tuple[float, float]:
    """(seconds, bytes on disk) to generate ``n_events`` with ``jobs`` workers (measured rates)."""
    return (n_events / _rate(name, options) / max(jobs, 1) + _SET_OVERHEAD_SECONDS,
            n_events * _SPECS[name].bytes_per_event)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


@dataclass
class _Survey:
    """Where a request's chunks are: found ones, missing ones, and why the missing ones are."""
    name: str
    opts: dict
    tag: str
    seed: int
    n: int
    found: dict
    todo: list
    read_dir: Path
    write_dir: Path | None

    @property
    def missing_events(self) -> int:
        return len(self.todo) * _SPECS[self.name].chunk_size


def _survey(name: str, n, seed, options: dict) -> _Survey:
    """Validate a request and find its cached chunks (warning about bad ones). No writes."""
    spec = _spec(name)
    n = _check_count(n)
    seed = _check_seed(seed)
    if n > _max_events():
        raise ValueError(
            f"{n:,d} {name} events is more than the {_max_events():,d} one request may ask for "
            f"(it would take about {_duration(_estimate(name, {}, n, os.cpu_count() or 1)[0])} and "
            f"{_human(_estimate(name, {}, n, 1)[1])}): ask for fewer, or set JETAD_MAX_EVENTS if "
            "you really mean it")
    opts = _resolve_options(spec, options)
    tag = _tag(spec, opts)
    size = spec.chunk_size
    read_root, write_root = _roots()
    read_dir = read_root / name / tag / f"seed{seed}"
    write_dir = write_root / name / tag / f"seed{seed}" if write_root else None
    found, todo = {}, []
    for chunk in range(math.ceil(n / size)):
        identity = _identity(name, opts, tag, seed, chunk, size)
        problems = {}
        for directory in dict.fromkeys(d for d in (read_dir, write_dir) if d is not None):
            problems[directory] = _chunk_problem(directory, chunk, identity)
            if not problems[directory]:
                found[chunk] = directory
                break
        else:
            todo.append(chunk)
            bad = {d: why for d, why in problems.items() if why != "missing"}
            if not bad:
                continue
            where = "; ".join(
                f"{'in the shared (read-only) directory ' if d == read_dir and write_dir != read_dir else 'in '}"
                f"{d}: {why}" for d, why in bad.items())
            if write_dir is None:
                then = "it cannot be regenerated (no writable cache)"
            elif write_dir != read_dir:
                then = f"regenerating it into your cache at {write_dir}"
            else:
                then = "regenerating it"
            warnings.warn(f"{name} ({tag}) seed {seed} chunk {chunk} {where}; {then}", stacklevel=4)
    return _Survey(name, opts, tag, seed, n, found, todo, read_dir, write_dir)


def _generate_missing(survey: _Survey, *, jobs, dask, progress) -> None:
    """Generate the survey's missing chunks into its write directory (checked before any work)."""
    name, opts, tag, seed = survey.name, survey.opts, survey.tag, survey.seed
    size = _SPECS[name].chunk_size
    read_root = survey.read_dir.parents[2]
    write_dir = survey.write_dir
    if write_dir is None:
        raise DataError(
            f"{name} ({', '.join(f'{k}={v}' for k, v in opts.items())}) with seed {seed} needs "
            f"{len(survey.todo)} more chunk(s) of {size} events, but {read_root} is read-only and "
            f"{_user_cache()} cannot be created. Set JETAD_DATA to a writable directory, or ask "
            "whoever prepared the shared directory to run `jetad-data prepare`."
        )
    jobs = _check_jobs(jobs)
    secs, nbytes = _estimate(name, opts, survey.missing_events, jobs)
    try:
        check_free_space(write_dir, 1.2 * nbytes + 1e6,
                         f"{survey.missing_events:,d} {name} events (estimated, "
                         f"~{_duration(secs)} to generate)", _SPACE_FIX)
    except NoSpaceError as exc:
        raise DataError(str(exc.strerror)) from None
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
    if dask is None and jobs > 1 and len(survey.todo) > 1 and _main_script_problem():
        raise DataError(f"cannot generate {name} events with {jobs} worker processes: "
                        + _main_script_problem() + ".")
    client, owned = _dask_client(dask) if dask is not None else (None, False)
    address = dask if isinstance(dask, str) else getattr(getattr(client, "scheduler", None),
                                                          "address", "the cluster")
    if write_dir != survey.read_dir:
        warnings.warn(f"{read_root} is read-only: generating the missing {name} events into "
                      f"{write_dir.parents[2]}", stacklevel=4)
    try:
        try:
            write_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"cannot create the {name} cache {write_dir} ({exc.strerror or exc}); "
                            "make it writable or set JETAD_DATA to a directory you own") from exc
        with _locked(write_dir):
            _remove_orphans(write_dir)  # left by a writer that was killed; nobody writes now
            # another process may have written them while we waited for the lock
            still = [c for c in survey.todo
                     if _chunk_problem(write_dir, c, _identity(name, opts, tag, seed, c, size))]
            tasks = [(c, size, _chunk_seed(name, tag, seed, c)) for c in still]
            base = {"dataset": name, "options": opts, "seed": seed, "versions": _versions(),
                    "n": size}
            chunks = _run_chunks(name, opts, tasks, jobs=jobs, client=client, address=address,
                                 progress=progress, total_events=size * len(tasks),
                                 desc=f"generating {name} ({tag.split('-')[0]})")
            try:
                with contextlib.closing(chunks):
                    for chunk, arrays in chunks:
                        _write_chunk(write_dir, chunk, arrays,
                                     {**base, "chunk": chunk,
                                      "pythia_seed": _chunk_seed(name, tag, seed, chunk)})
            except BaseException:
                _drop_if_empty(write_dir)
                raise
    except NoSpaceError as exc:
        raise DataError(f"{exc.strerror}. The chunks written before are kept.") from None
    except PermissionError as exc:
        raise DataError(f"cannot write the {name} cache in {write_dir} ({exc.strerror or exc}); "
                        "make it writable or set JETAD_DATA to a directory you own") from exc
    finally:
        if owned:
            _close_quietly(client)
    for c in survey.todo:
        survey.found[c] = write_dir
    survey.todo = []


def _load(name, n, *, seed=0, jobs=None, dask=None, progress=True, **options):
    """load(), also returning the directories the events were read from."""
    survey = _survey(name, n, seed, options)
    if survey.todo:
        _generate_missing(survey, jobs=jobs, dask=dask, progress=progress)
    return _read(survey)


def _read(survey: _Survey):
    """(events, directories read) of a survey whose chunks are all found."""
    name = survey.name
    spec = _SPECS[name]
    parts = []
    for chunk in range(math.ceil(survey.n / spec.chunk_size)):
        h5, _ = _chunk_files(survey.found[chunk], chunk)
        try:
            parts.append(_read_chunk(h5, spec.keys))
        except OSError as exc:
            raise DataError(f"cannot read {h5} ({exc}); delete it and load again to regenerate") from exc
    keys = parts[0].keys()
    out = {k: np.concatenate([p[k] for p in parts])[:survey.n] for k in keys}
    weight_key = spec.extra.get("weight_key")
    if weight_key:  # per-event cross-section: sum over the n events = sigma (see _SPECS)
        out[weight_key] = out[weight_key] * (spec.chunk_size / survey.n)
    return out, sorted(set(survey.found.values()))


def load(name: str, n: int, *, seed: int = 0, jobs: int | None = None, dask=None,
         progress: bool = True, **options) -> dict[str, np.ndarray]:
    """The first ``n`` events of a data set, generated and cached on first use.

    Parameters
    ----------
    name : str
        One of :func:`datasets` (``"jets"``, ``"lhco"``, ``"events"``).
    n : int
        Number of events (jets for ``"jets"``), positive, at most :data:`MAX_EVENTS`.
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
        Unknown data set or option, bad ``n``, ``seed`` or ``jobs``, more than
        :data:`MAX_EVENTS` events (the message lists valid choices).
    DataError
        The data cannot be read or written (read-only, not enough disk space: checked before
        generating, from the estimated size), a generation worker died, or a Dask cluster is
        unreachable or lost (the message says what to do). Generation workers are started
        with "spawn" and import a calling script again: call ``load`` from a script under
        ``if __name__ == "__main__":`` (or ``jobs=1``).
    """
    return _load(name, n, seed=seed, jobs=jobs, dask=dask, progress=progress, **options)[0]


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
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer (the shuffle is reproducible only with one), "
                         f"got {seed!r}")
    n_b = _sample_length(background, "background")
    n_avail = _sample_length(signal, "signal")
    if set(background) != set(signal):
        raise ValueError(f"background and signal have different keys: "
                         f"{sorted(set(background) ^ set(signal))}")
    if "label" in background:
        raise ValueError("the inputs already have a 'label' key, which mix() would overwrite: "
                         "drop or rename it first (e.g. {k: v for k, v in d.items() if k != 'label'})")
    if n_signal is None:
        if (isinstance(s_over_b, (bool, np.bool_)) or not isinstance(s_over_b, (int, float, np.number))
                or not math.isfinite(s_over_b) or s_over_b < 0):
            raise ValueError(f"s_over_b must be a finite, non-negative number, got {s_over_b!r}")
        n_signal = int(round(s_over_b * n_b))
    elif isinstance(n_signal, (bool, np.bool_)) or not isinstance(n_signal, (int, np.integer)):
        raise ValueError(f"n_signal must be a non-negative integer, got {n_signal!r}")
    if not 0 <= n_signal <= n_avail:
        raise ValueError(f"asked for {n_signal} signal events but the signal sample has {n_avail}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_b + n_signal)
    out = {k: np.concatenate([background[k], signal[k][:n_signal]])[order] for k in background}
    out["label"] = np.r_[np.zeros(n_b, dtype=np.int8), np.ones(n_signal, dtype=np.int8)][order]
    return out


def _sample_length(sample, what: str) -> int:
    """Number of events of a dict of arrays; a clear error if it is not one."""
    if not isinstance(sample, dict) or not sample:
        raise ValueError(f"{what} must be a non-empty dict of arrays (e.g. a load() result), "
                         f"got {type(sample).__name__}")
    lengths = {}
    for key, value in sample.items():
        try:
            arr = np.asarray(value) if not isinstance(value, np.ndarray) else value
        except ValueError:
            raise ValueError(f"{what}[{key!r}] is ragged (rows of different lengths): pad it to "
                             "an array first") from None
        if arr.ndim == 0 or arr.dtype == object:
            raise ValueError(f"{what}[{key!r}] is not an array of events (shape {arr.shape}, "
                             f"dtype {arr.dtype}); ragged lists need padding first")
        lengths[key] = len(arr)
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{what}'s arrays have different numbers of events: {lengths}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError(f"{what} has no events")
    return n


def select_channel(data: dict, channel: str) -> dict:
    """Dark Machines channel cuts on ``"events"`` data (see :mod:`jetad_utils.gen_events`)."""
    from .gen_events import select_channel as _select

    return _select(data, channel)


# ----------------------------------------------------------------------------- maintenance


def _check_root(root) -> Path:
    root = Path(root) if root is not None else data_dir()
    if not root.exists():
        raise DataError(f"{root} does not exist: no data directory to check (give the one the "
                        "notebooks use with --root, or set JETAD_DATA)")
    if not root.is_dir():
        raise DataError(f"{root} is a file, not a data directory")
    return root


def _seed_dir_problems(directory: Path) -> list[tuple[Path, str]]:
    """Everything wrong in one ``<name>/<tag>/seed<S>`` directory, as :func:`load` would see it."""
    name, tag, seed_part = directory.parts[-3], directory.parts[-2], directory.name
    if name not in _SPECS:
        return [(directory, f"unknown data set {name!r} (not made by jetad-data)")]
    spec = _SPECS[name]
    try:
        seed = int(seed_part[4:])
    except ValueError:
        return [(directory, "not a seed<N> directory")]
    problems = []
    for tmp in sorted(directory.glob(".*.tmp")):
        problems.append((tmp, "temporary file of an interrupted write"))
    for meta in sorted(directory.glob("chunk_*.json")):
        try:
            chunk = int(meta.stem.split("_")[1])
        except (IndexError, ValueError):
            problems.append((meta, "not a chunk manifest"))
            continue
        h5 = meta.with_suffix(".h5")
        manifest, why = _read_manifest(meta)
        if manifest is None:
            problems.append((meta, why))
            continue
        options, versions = manifest.get("options"), manifest.get("versions")
        if not isinstance(options, dict) or not isinstance(versions, dict):
            problems.append((meta, "its manifest lacks the options or versions it was made with"))
            continue
        # manifests are stored with sorted keys; the directory name lists options in table order
        options = {**{k: options[k] for k in spec.options() if k in options}, **options}
        try:
            made_for = _tag(spec, options, versions)
        except TypeError as exc:
            problems.append((meta, f"unreadable options in the manifest ({exc})"))
            continue
        if made_for != tag:
            problems.append((meta, f"its manifest's options and versions belong to {made_for}, "
                                   f"not to {tag} (a file of another set copied here?)"))
            continue
        why = _chunk_problem(directory, chunk,
                             _identity(name, options, tag, seed, chunk, spec.chunk_size, versions))
        if why:
            problems.append((h5 if why != "missing" else meta,
                             "no data file next to the manifest" if why == "missing" else why))
    for h5 in sorted(directory.glob("chunk_*.h5")):
        if not h5.with_suffix(".json").exists():
            problems.append((h5, "no manifest (interrupted write?)"))
    if not any(directory.glob("chunk_*")) and not problems:
        problems.append((directory, "empty (a generation that wrote nothing)"))
    return problems


@contextlib.contextmanager
def _unless_busy(directory: Path):
    """Yield True holding the directory's lock (or if it is read-only: nobody writes there), or
    False if another process holds the lock (it is generating into the directory now)."""
    if not os.access(directory, os.W_OK | os.X_OK):
        yield True
        return
    lock = _locked(directory, timeout=0)
    try:
        lock.__enter__()
    except TimeoutError:  # filelock.Timeout
        yield False
        return
    try:
        yield True
    finally:
        lock.__exit__(None, None, None)


def _seed_dirs(root: Path):
    return sorted(p for p in root.glob("*/*/seed*") if p.is_dir())


def verify(root=None) -> list[tuple[Path, str]]:
    """Check every cached chunk under ``root`` (default :func:`data_dir`) as :func:`load` would.

    Each chunk's checksum, and its manifest's identity (data set, options, seed, chunk index,
    Pythia seed, size, versions) against where the chunk lies; litter (temporary files of
    interrupted writes, data files without a manifest, empty directories) too. Directories
    another process is generating into right now are skipped.

    Returns
    -------
    list of (path, problem)
        Empty when everything is intact.

    Raises
    ------
    DataError
        ``root`` does not exist or is not a directory.
    """
    root = _check_root(root)
    problems = []
    for directory in _seed_dirs(root):
        with _unless_busy(directory) as free:
            if free:
                problems += _seed_dir_problems(directory)
    return problems


def clean(root=None) -> list[tuple[Path, str]]:
    """Remove what :func:`verify` reports (the next :func:`load` regenerates removed chunks).

    Returns the removed paths with the reason. Directories in use are left alone.
    """
    root = _check_root(root)
    removed = []
    for directory in _seed_dirs(root):
        with _unless_busy(directory) as free:
            if not free:
                continue
            for path, why in _seed_dir_problems(directory):
                if path == directory:
                    continue
                targets = [path] if path.suffix == ".tmp" else [path.with_suffix(".h5"),
                                                                  path.with_suffix(".json")]
                for target in targets:
                    if target.exists():
                        target.unlink()
                        removed.append((target, why))
            empty = not any(p.name != ".lock" for p in directory.iterdir())
        if empty:  # only the lock file is left
            _drop_if_empty(directory)
            removed.append((directory, "empty"))
    return removed


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
    estimates = [_estimate(name, opts, n, jobs) for name, opts, n in plan]
    return sum(e[0] for e in estimates), sum(e[1] for e in estimates)


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


def _cli_int(lowest: int, what: str):
    def convert(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or value < lowest:
            raise argparse.ArgumentTypeError(f"{raw!r} is not {what}")
        return value
    return convert


def _cli_options(name: str, items: list[str]) -> dict:
    """``--set KEY=VALUE`` items as typed options, each checked with a message naming it."""
    table = _spec(name).options()
    options = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or key not in table:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of "
                             + ", ".join(table))
        kind = table[key][1]
        if kind is bool:
            options[key] = parse_bool(raw, f"--set {key}")
        elif kind in (int, float):
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or (kind is int and not value.is_integer()):
                raise ValueError(f"--set {key}={raw}: {key} must be "
                                 f"{'an integer' if kind is int else 'a finite number'}")
            options[key] = int(value) if kind is int else value
        else:
            options[key] = raw
    return options


def _on_sigterm(signum, frame):  # pragma: no cover - exercised in a subprocess
    raise KeyboardInterrupt


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
    g.add_argument("--n", type=_cli_int(1, "a positive number of events"), required=True,
                   help=f"number of events (at most {MAX_EVENTS:,d}, or $JETAD_MAX_EVENTS)")
    g.add_argument("--cls", help="jet class (data set 'jets')")
    g.add_argument("--process", help="process (data sets 'lhco' and 'events')")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other option, e.g. --set mpi=true --set pt_min=500 (yes/no options: "
                        f"{BOOL_SPELLINGS}; `jetad-data describe NAME` lists the options)")
    g.add_argument("--seed", type=_cli_int(0, "a non-negative integer"), default=0)
    g.add_argument("--jobs", type=_cli_int(1, "a positive number of worker processes"),
                   default=None, help="worker processes (default: all cores)")
    g.add_argument("--dask", metavar="ADDRESS", help="send the chunks to this Dask scheduler")
    v = sub.add_parser("verify", help="check every cached chunk (checksum, identity) and report litter; "
                                      "exit code 1 if anything is wrong")
    v.add_argument("--root", type=Path, default=None)
    c = sub.add_parser("clean", help="remove what `verify` reports (bad chunks, temporary files of "
                                     "interrupted writes, empty directories)")
    c.add_argument("--root", type=Path, default=None)
    p = sub.add_parser(
        "prepare", help="generate everything the notebooks need (full mode, or --fast)",
        description="Generate every data set the notebooks read, at the sizes of full mode (or "
                    "of fast mode with --fast), into $JETAD_DATA (or the default data folder). "
                    "Prints the plan, the size on disk and the estimated time, and asks first. "
                    "What is cached already is kept.")
    p.add_argument("--fast", action="store_true", help="only the small fast-mode sets")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--jobs", type=_cli_int(1, "a positive number of worker processes"),
                   default=None, help="worker processes on this machine (default: all cores)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="send the chunks to this Dask scheduler (e.g. tcp://host:8786) instead")
    args = parser.parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        # `kill PID` stops like Ctrl-C: workers end, nothing half-written is left
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    else:  # pragma: no cover
        previous = None
    try:
        return _main(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(args) -> int:
    try:
        if args.command == "list":
            for name in datasets():
                print(f"{name:8s} {_SPECS[name].summary}")
            return 0
        if args.command == "describe":
            print(describe(args.name))
            return 0
        if args.command == "generate":
            options = _cli_options(args.name, args.set)
            if args.cls is not None:
                options["cls"] = args.cls
            if args.process is not None:
                options["process"] = args.process
            start = time.perf_counter()
            survey = _survey(args.name, args.n, args.seed, options)
            if survey.todo:
                secs, nbytes = _estimate(args.name, survey.opts, survey.missing_events,
                                         _check_jobs(args.jobs))
                print(f"{args.name}: generating {survey.missing_events:,d} events "
                      f"(~{_human(nbytes)}, ~{_duration(secs)}"
                      f"{'' if args.dask else f' with {_check_jobs(args.jobs)} worker(s)'})",
                      flush=True)
                _generate_missing(survey, jobs=args.jobs, dask=args.dask, progress=True)
            out, dirs = _read(survey)
            print(f"{args.name}: {len(next(iter(out.values())))} events ready in "
                  f"{' and '.join(map(str, dirs))} ({time.perf_counter() - start:.1f} s)")
            return 0
        if args.command == "verify":
            root = _check_root(args.root)
            problems = verify(root)
            n_files = len(list(root.glob("*/*/seed*/chunk_*.h5")))
            for path, why in problems:
                print(f"BAD  {path}: {why}", file=sys.stderr)
            if problems:
                print(f"{len(problems)} problem(s) in {root}; `jetad-data clean` removes them (and "
                      "any load regenerates removed or bad chunks)", file=sys.stderr)
                return 1
            print(f"{n_files} cached chunk(s) in {root}: all intact (checksums and identities)")
            return 0
        if args.command == "clean":
            removed = clean(args.root)
            for path, why in removed:
                print(f"removed {path}: {why}")
            print(f"{len(removed)} item(s) removed from {_check_root(args.root)}")
            return 0
        if args.command == "prepare":
            jobs = _check_jobs(args.jobs)
            plan = [(name, opts, n_fast if args.fast else n_full)
                    for name, opts, n_full, n_fast in [*PREPARE_PLAN, *_events_plan()]
                    if (n_fast if args.fast else n_full) > 0]
            secs, size = _plan_estimate(plan, jobs)
            target = _roots()[1] or data_dir()
            try:
                check_free_space(target, size, "the prepared data (estimated)", _SPACE_FIX)
            except NoSpaceError as exc:
                raise DataError(exc.strerror) from None
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
