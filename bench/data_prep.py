"""Tokenize + mask 10k chat examples with `ft_course.data.tokenize_chats`, against the plain tokenizer call on the
same rendered texts (the floor: no masking at all) and, on a subset, the per-example `apply_chat_template` route.

Run: .venv/bin/python bench/data_prep.py [--n 10000] [--repeats 3]
"""
import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "2")  # the fast tokenizer's thread pool: 2 cores, like CI

from ft_course.data import render_chatml, tokenize_chats
from ft_course.models import load_smollm2_tokenizer
from ft_course.tasks import load_task


def course_examples(n):
    "n examples cycled from both course tasks; every third one is a two-turn conversation (two rows merged)."
    base = load_task("greetings", "train") + load_task("extraction", "train")
    out = []
    for i in range(n):
        ex = base[i % len(base)]
        if i % 3 == 2:
            nxt = base[(i * 7 + 1) % len(base)]
            ex = {"messages": ex["messages"] + [m for m in nxt["messages"] if m["role"] != "system"]}
        out.append(ex)
    return out


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-length", type=int, default=512)
    args = ap.parse_args()
    tok = load_smollm2_tokenizer()
    examples = course_examples(args.n)
    texts = [render_chatml(ex["messages"])[0] for ex in examples]
    n_tokens = sum(len(x) for x in tok(texts, add_special_tokens=False)["input_ids"])
    print(f"{args.n} examples, {n_tokens} tokens, RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']}")

    t_plain = best_of(lambda: tok(texts, add_special_tokens=False), args.repeats)
    t_ours = best_of(lambda: tokenize_chats(examples, tok, args.max_length), args.repeats)
    rows, stats = tokenize_chats(examples, tok, args.max_length)
    assert stats["kept"] == args.n, stats

    sub = examples[: min(1000, args.n)]
    t_tmpl = best_of(lambda: [tok.apply_chat_template(ex["messages"], tokenize=True) for ex in sub], 1) * args.n / len(sub)

    print(f"plain tokenizer(texts), no masking : {t_plain*1000:8.1f} ms  ({n_tokens/t_plain/1e6:.2f} M tok/s)")
    print(f"tokenize_chats (render+tokenize+mask): {t_ours*1000:8.1f} ms  ratio {t_ours/t_plain:.2f}x  (goal <= 1.5x)")
    print(f"apply_chat_template per example (est.): {t_tmpl*1000:8.1f} ms  ratio {t_tmpl/t_plain:.2f}x")


if __name__ == "__main__":
    main()
