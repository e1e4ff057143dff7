"""ROUGE speed: `ft_course.eval.rouge_scores` vs `rouge_score.rouge_scorer.RougeScorer.score` (rouge-score 0.1.2).

Both score the same pairs for rouge1, rouge2, rougeL and rougeLsum; the results are checked equal first, then each
is timed in the same process. Two sets: short pairs built from the course data (greetings and extraction answers,
perturbed) and longer multi-line English "summaries" (3-6 lines, ~60-120 tokens), where the LCS dominates.

    OMP_NUM_THREADS=1 .venv/bin/python bench/rouge_vs_rouge_score.py [--pairs 3000] [--repeat 3]
"""
import argparse
import random
import time

from rouge_score import rouge_scorer

from ft_course.eval import ROUGE_TYPES, rouge_scores
from ft_course.tasks import load_task

WORDS = ("the model was fine tuned on a small set of examples and then evaluated against held out references "
         "which showed that training longer improved recall but hurt precision because outputs became verbose "
         "results were compared with the base model running zero shot prompts on identical test inputs").split()


def _perturb(text, rng):
    "Drop, swap or duplicate a few words, keeping the line structure."
    lines = []
    for line in text.split("\n"):
        words = line.split()
        for _ in range(rng.randint(0, 3)):
            if not words: break
            i, op = rng.randrange(len(words)), rng.random()
            if op < 0.4: words.pop(i)
            elif op < 0.7: j = rng.randrange(len(words)); words[i], words[j] = words[j], words[i]
            else: words.insert(i, words[i])
        lines.append(" ".join(words))
    return "\n".join(lines)


def short_pairs(n, rng):
    refs = [r["messages"][-1]["content"] for task in ("greetings", "extraction") for r in load_task(task, "train")]
    return [(_perturb(ref, rng), ref) for ref in (rng.choice(refs) for _ in range(n))]


def long_pairs(n, rng):
    def summary():
        return "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 25))) for _ in range(rng.randint(3, 6)))
    out = []
    for _ in range(n):
        ref = summary()
        out.append((_perturb(ref, rng) if rng.random() < 0.7 else summary(), ref))
    return out


def timed(fn, pairs, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for p, r in pairs: fn(p, r)
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=3000, help="pairs per set")
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions (best is kept)")
    args = ap.parse_args()
    rng = random.Random(0)
    sets = {"short (course data)": short_pairs(args.pairs, rng), "long (multi-line English)": long_pairs(args.pairs, rng)}
    print(f"{'set':<27} {'stemmer':<8} {'rouge-score s':>14} {'ours s':>8} {'speed-up':>9}")
    for name, pairs in sets.items():
        for stem in (False, True):
            scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=stem)
            theirs = lambda p, r: scorer.score(r, p)
            ours = lambda p, r: rouge_scores(p, r, use_stemmer=stem)
            for p, r in pairs:   # same numbers before timing anything
                assert ours(p, r) == theirs(p, r), (p, r)
            t_theirs, t_ours = timed(theirs, pairs, args.repeat), timed(ours, pairs, args.repeat)
            print(f"{name:<27} {str(stem):<8} {t_theirs:>14.3f} {t_ours:>8.3f} {t_theirs / t_ours:>8.1f}x")


if __name__ == "__main__":
    main()
