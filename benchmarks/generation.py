"""Throughput of the whole data pipeline against plain Pythia, measured in the same run.

1. One core: ``jetad_utils.data.load`` (generate with Pythia, cluster with FastJet, compute the
   features, write the checksummed HDF5 cache) in Pythia events per second, against a plain
   ``pythia.next()`` loop with the same settings and the same number of events.
   Target: ratio >= 0.8 (the pipeline adds at most 25 % to Pythia's own time).
2. Two workers against one: the same data set generated with ``jobs=2`` and ``jobs=1``
   (fresh cache directories, worker start-up included). Target: speed-up >= 1.7x.

The machine's own speed drifts by about 10 % from minute to minute, so both comparisons are
repeated, interleaved (pipeline, raw, 1 worker, 2 workers, then again), and the medians over
the repetitions are the result; every repetition is printed too.

Usage (from the repository root)::

    .venv/bin/python benchmarks/generation.py                 # jets, cls=qcd
    .venv/bin/python benchmarks/generation.py --name lhco --option process=qcd --n 4000
    .venv/bin/python benchmarks/generation.py --repeat 1      # one quick measurement
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from jetad_utils import data, pythia_tools


def _parse_options(items):
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _timed_load(name, n, jobs, options):
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["JETAD_DATA"] = tmp
        start = time.perf_counter()
        data.load(name, n, jobs=jobs, progress=False, **options)
        return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="jets")
    parser.add_argument("--option", action="append", default=None, metavar="KEY=VALUE")
    parser.add_argument("--n", type=int, default=None, help="events of the data set")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved repetitions (medians reported)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    options = _parse_options(args.option or (["cls=qcd"] if args.name == "jets" else []))
    spec = data._SPECS[args.name]
    n = args.n or 4 * spec.chunk_size

    # --- 1. pipeline vs raw Pythia on one core -----------------------------------------------
    # count the Pythia events the pipeline consumes, and remember its settings
    seen = {"events": 0, "settings": None, "mpi": False}
    real_make = pythia_tools.make_pythia

    class Counting:
        def __init__(self, pythia):
            self._p = pythia

        def nextBatch(self, k, *a, **kw):
            batch = self._p.nextBatch(k, *a, **kw)
            seen["events"] += len(batch)
            return batch

        def __getattr__(self, attr):
            return getattr(self._p, attr)

    def counting_make(settings, seed, *, mpi=False):
        seen["settings"] = seen["settings"] or list(settings)
        seen["mpi"] = mpi
        return Counting(real_make(settings, seed, mpi=mpi))

    module = sys.modules.get(f"jetad_utils.{spec.module}") or __import__(
        f"jetad_utils.{spec.module}", fromlist=["_"])
    # throughput, not start-up: import what the pipeline uses before the clock starts
    import fastjet  # noqa: F401
    import h5py  # noqa: F401

    pythia_tools.quiet_fastjet()
    ratios, speedups = [], []
    for rep in range(1, args.repeat + 1):
        seen["events"] = 0
        module.make_pythia = counting_make
        try:
            t_pipe = _timed_load(args.name, n, 1, options)
        finally:
            module.make_pythia = real_make
        n_events = seen["events"]

        pythia = real_make(seen["settings"], 12345 + rep, mpi=seen["mpi"])
        start = time.perf_counter()
        for _ in range(n_events):
            pythia.next()
        t_raw = time.perf_counter() - start

        rate_pipe, rate_raw = n_events / t_pipe, n_events / t_raw
        ratios.append(rate_pipe / rate_raw)
        print(f"[{rep}/{args.repeat}] {args.name} {options}: {n} rows from {n_events} Pythia events")
        print(f"  pipeline (1 core, generate+cluster+features+write): {rate_pipe:7.1f} events/s")
        print(f"  plain Pythia next() (same settings):                {rate_raw:7.1f} events/s")
        print(f"  ratio pipeline / raw Pythia: {ratios[-1]:.3f}")

        # --- 2. two workers vs one -----------------------------------------------------------
        t1 = _timed_load(args.name, n, 1, options)
        t2 = _timed_load(args.name, n, 2, options)
        speedups.append(t1 / t2)
        print(f"  1 worker: {t1:.1f} s, 2 workers: {t2:.1f} s, speed-up {speedups[-1]:.2f}x", flush=True)

    ratio, speedup = float(np.median(ratios)), float(np.median(speedups))
    print(f"median of {args.repeat}: ratio pipeline / raw Pythia {ratio:.3f} (target >= 0.8), "
          f"two-worker speed-up {speedup:.2f}x (target >= 1.7x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
