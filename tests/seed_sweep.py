"""Seed sweep: do the notebooks' checks hold at other seeds than the shipped ``SEED = 0``?

Each notebook is copied to a temporary directory with its setup cell's ``SEED = 0`` replaced by
``SEED = k``, executed top to bottom in fast mode with fresh checkpoints (the same runner as the
mutation check, ``tests/mutation_check.py``), and every ``check_between`` it calls is recorded
(through ``$JETAD_CHECK_LOG``) with its value and bounds. The recorded ``# NBVAL_CHECK_OUTPUT``
cells are not compared: they are the regression record of seed 0, not physics checks.

It prints one line per (notebook, seed): passed, or the cell and message of the first failure;
then, per check, its bounds and the values seen at each seed with their spread, so a margin can
be compared with the measured seed-to-seed scatter. ``--json FILE`` writes all of it.

Not part of ``make test`` (5 seeds of every notebook take about an hour on 2 cores)::

    .venv/bin/python tests/seed_sweep.py                       # every notebook, seeds 1-5
    .venv/bin/python tests/seed_sweep.py 02 07 --seeds 1 2 3   # a subset
    .venv/bin/python tests/seed_sweep.py 04 --seeds 0          # the shipped seed, same runner

Exit status 0 only if every run passed.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mutation_check as mc  # noqa: E402

ROOT = mc.ROOT
SEED_LINE = re.compile(r"^SEED = 0\b", re.M)


def notebook_path(key: str) -> Path:
    """``notebooks/<key>*.ipynb`` (exactly one), e.g. ``"07"``."""
    match = sorted((ROOT / "notebooks").glob(f"{key}*.ipynb"))
    if len(match) != 1:
        raise SystemExit(f"seed_sweep: expected one notebooks/{key}*.ipynb, found "
                         f"{[p.name for p in match]}")
    return match[0]


def with_seed(src: Path, dest: Path, seed: int) -> Path:
    """Copy notebook ``src`` to ``dest`` with ``SEED = 0`` (exactly once) set to ``seed``."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    hits = [c for c in nb.cells if c.cell_type == "code" and SEED_LINE.search(c.source)]
    if len(hits) != 1 or len(SEED_LINE.findall(hits[0].source)) != 1:
        raise SystemExit(f"seed_sweep: {src.name} must set `SEED = 0` exactly once in its setup "
                         f"cell (found {len(hits)} cells)")
    hits[0].source = SEED_LINE.sub(f"SEED = {seed}", hits[0].source)
    nbformat.write(nb, dest)
    return dest


def run_one(key: str, seed: int, timeout: int = mc.CELL_TIMEOUT) -> dict:
    """Run notebook ``key`` at ``seed``; return the result and the checks it recorded."""
    src = notebook_path(key)
    with tempfile.TemporaryDirectory(prefix=f"jetad-seed-{key}-{seed}-") as tmp:
        tmp = Path(tmp)
        (tmp / "notebooks").mkdir()
        nb = with_seed(src, tmp / "notebooks" / src.name, seed)
        checkpoints = tmp / "checkpoints"
        checkpoints.mkdir()
        log = tmp / "checks.jsonl"
        env = mc.kernel_env(ROOT, checkpoints)
        env["JETAD_CHECK_LOG"] = str(log)
        res = mc.run_notebook(nb, env=env, timeout=timeout, compare_outputs=False)
        checks = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return {"notebook": src.name, "seed": seed, "passed": not res["failed"], "cell": res["cell"],
            "kind": res["kind"], "message": res["message"], "seconds": res["seconds"],
            "checks": checks}


def summarise(results: list[dict]) -> str:
    """Per notebook and check: bounds, value at each seed, mean ± standard deviation."""
    lines = []
    by_nb = defaultdict(list)
    for r in results:
        by_nb[r["notebook"]].append(r)
    for nb, runs in sorted(by_nb.items()):
        lines.append(f"\n{nb}")
        values = defaultdict(dict)
        bounds = {}
        for r in sorted(runs, key=lambda r: r["seed"]):
            seen = defaultdict(int)
            for c in r["checks"]:
                seen[c["name"]] += 1
                key = c["name"] if seen[c["name"]] == 1 else f"{c['name']} [{seen[c['name']]}]"
                values[key][r["seed"]] = c["value"]
                bounds[key] = (c["lo"], c["hi"])
        for key, per_seed in values.items():
            lo, hi = bounds[key]
            vals = [v for v in per_seed.values() if not math.isnan(v)]
            spread = (f"mean {statistics.fmean(vals):.4g} sd {statistics.stdev(vals):.2g}"
                      if len(vals) > 1 else "")
            seeds = ", ".join(f"s{s}={v:.4g}" for s, v in sorted(per_seed.items()))
            lines.append(f"  {key}\n      bounds [{lo:.4g}, {hi:.4g}]  {seeds}  {spread}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/seed_sweep.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook numbers (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--jobs", type=int, default=2, help="runs at the same time (default 2)")
    parser.add_argument("--timeout", type=int, default=mc.CELL_TIMEOUT, help="seconds per cell")
    parser.add_argument("--json", type=Path, help="write every result and check value here")
    args = parser.parse_args(argv)
    keys = args.notebooks or sorted(p.name[:2] for p in (ROOT / "notebooks").glob("[0-9]*.ipynb"))
    for key in keys:                               # fail fast on a notebook without SEED = 0
        with tempfile.TemporaryDirectory() as tmp:
            with_seed(notebook_path(key), Path(tmp) / "nb.ipynb", 1)

    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    tasks = [(k, s) for k in keys for s in args.seeds]
    print(f"seed sweep: {len(tasks)} run(s), {args.jobs} at a time, fast mode", flush=True)
    start = time.perf_counter()
    results = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=mp.get_context("spawn"),
                             initializer=mc.share_cores, initargs=(args.jobs,)) as pool:
        futures = {pool.submit(run_one, k, s, args.timeout): (k, s) for k, s in tasks}
        for n, fut in enumerate(as_completed(futures), 1):
            r = fut.result()
            results.append(r)
            status = ("passed" if r["passed"] else
                      f"FAILED cell {r['cell']} ({r['kind']}): {mc._first_lines(r['message'], 2)}")
            print(f"[{n}/{len(tasks)}] {r['notebook']:32s} seed {r['seed']}: {status} "
                  f"({r['seconds']:.0f} s, {len(r['checks'])} checks)", flush=True)
    print(summarise(results))
    passed = sum(r["passed"] for r in results)
    print(f"\n{passed} of {len(results)} runs passed in {time.perf_counter() - start:.0f} s")
    table = defaultdict(dict)
    for r in results:
        table[r["notebook"]][r["seed"]] = "pass" if r["passed"] else "FAIL"
    print("| notebook | " + " | ".join(f"seed {s}" for s in args.seeds) + " |")
    print("| --- |" + " --- |" * len(args.seeds))
    for nb in sorted(table):
        print(f"| {nb} | " + " | ".join(table[nb].get(s, "-") for s in args.seeds) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
