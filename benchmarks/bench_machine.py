"""What a second worker process can give on this machine: the ceiling of the scaling figure.

The same numpy work runs in 1 and then in 2 processes at once (``multiprocessing``, one
thread each); each prints its throughput in 2 processes ÷ 1, measured in the same run:

- ``core cache``: ``a + b → c`` on float32 arrays of ``--small`` elements (3 MiB), which
  stay in a core's own cache;
- ``shared cache``: the same on ``--mid`` elements (29 MiB): one process's arrays fit the
  last-level cache the cores share, two processes' do not (the working set of a composites
  task: a few periods of scenes on a 480 px tile);
- ``memory``: the same on ``--large`` elements (572 MiB): every pass streams from memory;
- ``sort``: ``np.sort`` of ``--mid`` elements (compute-bound).

A task whose steps go through tens of MB cannot scale beyond the ``shared cache`` figure
however the work is cut: on the 2-core VM of benchmarks/README.md, about 1.0×.

    .venv/bin/python benchmarks/bench_machine.py [--small 250000] [--mid 2500000]
        [--large 50000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from collections.abc import Callable

import numpy as np


def _add(n: int, repeat: int) -> float:
    a = np.ones(n, np.float32)
    b, c = np.ones_like(a), np.empty_like(a)
    np.add(a, b, out=c)  # pages touched before timing
    t = time.perf_counter()
    for _ in range(repeat):
        np.add(a, b, out=c)
    return 3 * 4 * n * repeat / (time.perf_counter() - t)  # bytes moved per second


def _sort(n: int, repeat: int) -> float:
    a = np.random.default_rng(0).random(n).astype(np.float32)
    t = time.perf_counter()
    for _ in range(repeat):
        np.sort(a)
    return n * repeat / (time.perf_counter() - t)  # elements per second


def _one(args: tuple[Callable[[int, int], float], int, int]) -> float:
    fn, n, repeat = args
    return fn(n, repeat)


def scaling(fn: Callable[[int, int], float], n: int, repeat: int, rounds: int) -> float:
    """Total throughput of 2 processes ÷ that of 1 (best of `rounds` each)."""
    ctx = mp.get_context("spawn")
    best = {1: 0.0, 2: 0.0}
    with ctx.Pool(2) as pool:
        pool.map(_one, [(fn, 1000, 1)] * 2)  # both processes started
        for _ in range(rounds):
            for k in (1, 2):
                got = pool.map(_one, [(fn, n, repeat)] * k, chunksize=1)
                best[k] = max(best[k], sum(got))
    return best[2] / best[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", type=int, default=250_000, help="elements of an in-cache array")
    p.add_argument("--mid", type=int, default=2_500_000, help="elements of a mid-size array")
    p.add_argument("--large", type=int, default=50_000_000, help="elements of a large array")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    cases = [
        ("core cache", _add, a.small, max(1, 10**9 // a.small)),
        ("shared cache", _add, a.mid, max(1, 10**9 // a.mid)),
        ("memory", _add, a.large, max(1, 10**9 // a.large)),
        ("sort", _sort, a.mid, 3),
    ]
    print(f"2 processes ÷ 1 on {mp.cpu_count()} cores (best of {a.rounds}):")
    for name, fn, n, repeat in cases:
        mib = 3 * 4 * n / 2**20 if fn is _add else 4 * n / 2**20
        print(f"  {name:<12} {scaling(fn, n, repeat, a.rounds):.2f}×  ({mib:,.1f} MiB per process)")


if __name__ == "__main__":
    main()
