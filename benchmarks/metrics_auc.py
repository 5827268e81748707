"""Time jetad_utils.metrics.roc_auc against sklearn.metrics.roc_auc_score.

Both run on the same random events in the same process (best of ``--repeat``); the script
prints the two times and their ratio (> 1 means roc_auc is faster). It asserts nothing about
time: see benchmarks/README.md.

    python benchmarks/metrics_auc.py [--n 1000000] [--repeat 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from jetad_utils.metrics import roc_auc


def best_of(fn, repeat: int) -> tuple[float, float]:
    """(fastest wall-clock time in seconds, result of the last call)."""
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of events")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    y = (rng.random(args.n) < 0.5).astype(int)
    score = rng.normal(size=args.n) + 0.5 * y  # a mildly informative score, AUC ~ 0.64

    t_ours, auc_ours = best_of(lambda: roc_auc(y, score), args.repeat)
    t_sk, auc_sk = best_of(lambda: roc_auc_score(y, score), args.repeat)

    print(f"events: {args.n:,}, best of {args.repeat}; AUC {auc_ours:.6f} (sklearn {auc_sk:.6f}, "
          f"difference {abs(auc_ours - auc_sk):.1e})")
    print(f"roc_auc: {t_ours:.3g} s, sklearn: {t_sk:.3g} s, ratio {t_sk / t_ours:.2g}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
