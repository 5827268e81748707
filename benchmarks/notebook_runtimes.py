"""How long each notebook takes for a student who opens it for the first time.

Every notebook runs top to bottom on a fresh kernel (``jetad_utils.book.execute_notebook``) in
the chosen mode, in order 01, 02, ..., with an empty checkpoint folder, so every model is
trained as on a first run (notebook 04 then loads notebook 03's models, as it does for a
student who ran 03 first). The data are either

* ``--data DIR``: a folder prepared before (``jetad-data prepare --fast``), as in a workshop
  room: the runtimes are the notebooks' own; or
* ``--cold`` (default): a new, empty folder: the first notebook that reads a data set
  generates it, and its runtime includes that (someone studying alone, nothing prepared).

It prints one row per notebook with its wall-clock time, the errors its outputs hold, and the
machine's mean 1-minute load average during the notebook's run (``os.getloadavg``, every
10 s). The notebook itself adds about as much load as it keeps threads busy; a load well above
the number of cores means other work shared the machine and the times are not a clean
measurement. Last, the total. It asserts nothing about time.

    .venv/bin/python benchmarks/notebook_runtimes.py                  # fast mode, cold cache
    .venv/bin/python benchmarks/notebook_runtimes.py --data data 01 02
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

from jetad_utils import book

REPO = Path(__file__).resolve().parents[1]


class _LoadSampler:
    """The 1-minute load average, sampled every 10 s while a notebook runs; its mean."""

    def __init__(self):
        self.samples, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(10.0):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples) if self.samples else os.getloadavg()[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="numbers, e.g. 01 03 (default: all)")
    parser.add_argument("--mode", choices=["fast", "full"], default="fast")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data", type=Path, help="a prepared data folder (JETAD_DATA)")
    where.add_argument("--cold", action="store_true", help="a new, empty data folder (default)")
    args = parser.parse_args(argv)

    paths = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.notebooks:
        paths = [p for p in paths if p.name[:2] in args.notebooks]
        if not paths:
            parser.error(f"no notebook numbered {' '.join(args.notebooks)} in notebooks/")

    with tempfile.TemporaryDirectory(prefix="jetad-runtimes-") as tmp:
        data = args.data.resolve() if args.data else Path(tmp) / "data"
        data.mkdir(parents=True, exist_ok=True)
        os.environ["JETAD_DATA"] = str(data)
        os.environ["JETAD_CHECKPOINTS"] = str(Path(tmp) / "checkpoints")
        cores = os.cpu_count()
        state = f"prepared in {data}" if args.data else "cold (generated on first use)"
        print(f"{args.mode} mode, {cores} cores, data {state}, no checkpoints at the start",
              flush=True)
        print("| notebook | runtime | errors | load during the run |")
        print("| --- | --- | --- | --- |")
        total = 0.0
        failed = 0
        for path in paths:
            with _LoadSampler() as load:
                _, seconds, errors = book.execute_notebook(path, fast=args.mode == "fast",
                                                           timeout=6 * 3600)
            total += seconds
            failed += errors > 0
            print(f"| {path.stem} | {book.format_runtime(seconds)} ({seconds:.0f} s) | {errors} | "
                  f"{load.mean:.1f} |", flush=True)
        print(f"total {book.format_runtime(total)} ({total:.0f} s) for {len(paths)} notebook(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
