"""`ft_course.data.dedup` on the course data: time and peak memory, against the previous implementation (all LSH
candidate pairs scored, exact copies included), which also checks that both find the same pairs.

Run: .venv/bin/python bench/dedup.py [--n 10000] [--n-ref 1000]
"""
import argparse
import os
import time
import tracemalloc

os.environ.setdefault("OMP_NUM_THREADS", "1")

from data_prep import course_examples    # the same course rows as bench/data_prep.py (this folder)
from ft_course.data import dedup, dedup_simple as dedup_reference  # the form before issue 14


def measure(fn, rows):
    "(seconds, peak MiB of Python/NumPy allocations, result): timed in one call, memory traced in a second one."
    t0 = time.perf_counter(); out = fn(rows); dt = time.perf_counter() - t0
    tracemalloc.start()
    fn(rows)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return dt, peak, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--n-ref", type=int, default=1000)
    args = ap.parse_args()
    small = course_examples(args.n_ref)
    # alternate ours and the reference on the same rows, so a busy machine slows both alike
    t_ref, m_ref, ref = measure(dedup_reference, small)
    t_ours, m_ours, ours = measure(dedup, small)
    same = ours[1] == ref[1]
    print(f"{args.n_ref} rows: reference {t_ref:7.2f} s {m_ref:7.1f} MiB | ours {t_ours:6.2f} s {m_ours:6.1f} MiB | "
          f"speed-up {t_ref / t_ours:.1f}x | same removed pairs: {same} ({len(ref[1])})")
    # a lower threshold finds many near (not exact) duplicates: the greedy order must match there too
    low = course_examples(args.n_ref // 2)
    same_low = dedup(low, threshold=0.7)[1] == dedup_reference(low, threshold=0.7)[1]
    print(f"{len(low)} rows at threshold 0.7: same removed pairs: {same_low} ({len(dedup(low, threshold=0.7)[1])})")
    same = same and same_low
    big = course_examples(args.n)
    t_big, m_big, (kept, removed) = measure(dedup, big)
    verdict = "meets" if t_big <= 10 and m_big <= 300 else "misses"
    print(f"{args.n} rows: ours {t_big:.2f} s, peak {m_big:.1f} MiB, kept {len(kept)}, removed {len(removed)} "
          f"-> {verdict} the goal (<= 10 s, <= 300 MiB)")
    assert same, "ours and the reference removed different pairs"


if __name__ == "__main__":
    main()
