"""Retrieval evaluation at COCO's 5k test size: time and peak memory.

Synthetic embeddings stand in for a model's (the ranking is what is timed,
not the encoders): `--images` images of `--dim` unit vectors, each owning
`--captions` noisy copies, so 5,000 images against 25,000 captions by
default, as in the Karpathy COCO 5k test.

Arms, each in its own fresh process (so one arm's freed memory does not
lower the next one's peak), `--repeats` times, alternating:

- `chunked`: `vlpk.metrics.chunked_retrieval`, both directions, `--chunk`
  queries at a time (what `vlpk evaluate retrieval` runs);
- `chunked_rerank`: the same plus ALBEF re-ranking of each query's top
  `--rerank-k`, the matching head replaced by a dot product of the pair
  (the head's cost is the model's, not the ranking's);
- `whole`: `similarity_retrieval_metrics` on the whole `[5000, 25000]`
  matrix (what vlpk did before);
- `whole_rerank`: `vlpk.tasks.retrieval.rerank` on the whole matrices, then
  `whole` on each (vlpk's former re-ranking path).

Peak memory is the process's peak resident set (`ru_maxrss`) minus its
resident set just before the arm ran, and `tracemalloc`'s peak of numpy's
allocations. The script checks that the chunked and whole arms agree.

    python benchmarks/retrieval_eval.py                     # ~3 min
    python benchmarks/retrieval_eval.py \
        --json benchmarks/results/retrieval_eval_run2.json
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine  # noqa: E402

ARMS = ("chunked", "chunked_rerank", "whole", "whole_rerank")


def split(args):
    rng = np.random.default_rng(args.seed)
    images = rng.normal(size=(args.images, args.dim)).astype("float32")
    owner = np.repeat(np.arange(args.images), args.captions)
    texts = images[owner] + rng.normal(scale=4.0, size=(len(owner), args.dim))
    texts = texts.astype("float32")
    for m in (images, texts):
        m /= np.linalg.norm(m, axis=1, keepdims=True)
    return images, texts, owner


def run_arm(arm, args):
    """Runs one arm in this process; returns its seconds, memory and metrics."""
    from vlpk.metrics.chunked_retrieval import chunked_retrieval
    from vlpk.metrics.retrieval import similarity_retrieval_metrics
    from vlpk.tasks.retrieval import rerank

    images, texts, owner = split(args)

    def score_pairs(i, t, batch=256):
        # In batches, as `vlpk.tasks.retrieval.pair_scorer` runs the head.
        return np.concatenate(
            [
                np.einsum("nd,nd->n", images[i[s : s + batch]], texts[t[s : s + batch]])
                for s in range(0, len(i), batch)
            ]
        )

    def whole_rerank():
        similarity = images @ texts.T
        k = args.rerank_k
        i2t = similarity_retrieval_metrics(rerank(similarity, k, score_pairs), owner)
        t2i = similarity_retrieval_metrics(
            rerank(similarity.T, k, lambda t, i: score_pairs(i, t)).T, owner
        )
        return {
            **{k: v for k, v in i2t.items() if k.startswith("i2t")},
            **{k: v for k, v in t2i.items() if k.startswith("t2i")},
        }

    functions = {
        "chunked": lambda: chunked_retrieval(
            images, texts, owner, chunk_size=args.chunk
        )["contrastive"],
        "chunked_rerank": lambda: chunked_retrieval(
            images,
            texts,
            owner,
            rerank_k=args.rerank_k,
            score_pairs=score_pairs,
            chunk_size=args.chunk,
        )["reranked"],
        "whole": lambda: similarity_retrieval_metrics(images @ texts.T, owner),
        "whole_rerank": whole_rerank,
    }
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start = time.perf_counter()
    metrics = functions[arm]()
    seconds = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "traced_peak_mb": traced_peak / 2**20,
        "rss_growth_mb": (rss_after - rss_before) / 1024,  # KiB on Linux
        "metrics": {k: v for k, v in metrics.items() if k.endswith(("_r1", "_r5"))},
    }


def in_subprocess(arm, argv):
    out = subprocess.run(
        [sys.executable, __file__, "--arm", arm, *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--images", type=int, default=5000)
    add("--captions", type=int, default=5, help="captions per image")
    add("--dim", type=int, default=256)
    add("--chunk", type=int, default=512)
    add("--rerank-k", type=int, default=16)
    add("--repeats", type=int, default=3)
    add("--seed", type=int, default=0)
    add("--arm", choices=ARMS, help=argparse.SUPPRESS)
    add("--json", default="benchmarks/results/retrieval_eval.json")
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.arm:  # a child process: one arm, one JSON line
        print(json.dumps(run_arm(args.arm, args)))
        return 0
    child = [
        f"--{key.replace('_', '-')}={getattr(args, key)}"
        for key in ("images", "captions", "dim", "chunk", "rerank_k", "seed")
    ]
    runs = {arm: [] for arm in ARMS}
    for repeat in range(args.repeats):
        order = ARMS if repeat % 2 == 0 else ARMS[::-1]
        for arm in order:
            runs[arm].append(in_subprocess(arm, child))
            r = runs[arm][-1]
            print(
                f"  repeat {repeat + 1} {arm}: {r['seconds']:.2f} s, rss +"
                f"{r['rss_growth_mb']:.0f} MB, traced peak "
                f"{r['traced_peak_mb']:.0f} MB",
                file=sys.stderr,
            )
    summary = {
        arm: {
            key: statistics.median(r[key] for r in rs)
            for key in ("seconds", "traced_peak_mb", "rss_growth_mb")
        }
        for arm, rs in runs.items()
    }
    for a, b in (("chunked", "whole"), ("chunked_rerank", "whole_rerank")):
        for key, value in runs[a][0]["metrics"].items():
            if abs(value - runs[b][0]["metrics"][key]) > 1e-9:
                raise SystemExit(f"{a} and {b} disagree on {key}")
    print(
        f"{args.images} images x {args.images * args.captions} captions, dim "
        f"{args.dim}, chunk {args.chunk}, re-rank top {args.rerank_k}; medians "
        f"of {args.repeats}\n| arm | seconds | peak RSS growth MB | traced peak MB |"
        "\n|---|---|---|---|"
    )
    for arm, s in summary.items():
        print(
            f"| {arm} | {s['seconds']:.2f} | {s['rss_growth_mb']:.0f} | "
            f"{s['traced_peak_mb']:.0f} |"
        )
    print(f"metrics agree: yes ({runs['chunked'][0]['metrics']})")
    result = {"machine": machine(), "settings": vars(args), "runs": runs}
    result["summary"] = summary
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
