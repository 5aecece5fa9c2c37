"""Generation speed of `VisionCausalLM`: its KV cache, naive decoding, KerasHub.

The cached `generate` is timed against naive decoding and against KerasHub's
own `LlamaCausalLM.generate` on the bare LM.

The model is built offline from a config (no preset, no tokenizer): a
Llama-family LM (`--layers` x `--hidden-dim`, `--heads` heads, vocabulary
`--vocabulary-size`) behind `ImageEncoder(small_cnn(64, widths=(32, 64)),
output="tokens")` (a 16 x 16 map: 256 image tokens) and the default
`MLPConnector`, causal attention (LLaVA). Prompts are `--prompt-length`
random token ids per row, with `--new-tokens` new tokens generated, greedy,
at each `--batch-sizes` batch size. Inputs are preprocessed tensors on every
side (`preprocessor=None`), so tokenization is not timed. The arms:

- `cached`: `task.generate({"images", "token_ids", "padding_mask",
  "response_mask"}, stop_token_ids=None)` after `task.compile(sampler=
  "greedy")`: one pass over the image prefix and the prompt seeds the key /
  value cache, then KerasHub's sampler loop adds one token per step.
- `naive`: the keras-io captioning loop: for every new token, `task(inputs)`
  on the whole sequence (the image and every token so far), then the argmax
  of the last position, appended. `task(inputs)` is an eager Keras call, as
  in that example.
- `naive_compiled`: the same loop, with `task(inputs)` in one `tf.function`
  whose input signature leaves the length free (traced once). It separates
  what the cache saves from what eager Python costs.
- `keras_hub`: `keras_hub.models.LlamaCausalLM(backbone=<the same LM
  backbone>)`, compiled with the greedy sampler, `generate({"token_ids",
  "padding_mask"}, stop_token_ids=None)` on prompts of `prefix + prompt`
  random tokens (the image prefix's length plus vlpk's prompt), with the
  same number of new tokens: the same key/value cache length and the same
  positions through the same LM layers. The ratio vlpk / KerasHub is what
  vlpk's image prefix and its generation code cost over KerasHub's.

With `--profile-keep-cache`, a fifth arm, `cached_no_keep`, is vlpk's
`generate` on an identical model whose decoder skips the per-step
`keep_cache` select of the written positions (`without_keep_cache`): it
shows what that select costs.

Greedy decoding is deterministic: the script checks that `cached`, `naive`
and `naive_compiled` (and `cached_no_keep`) give the same new tokens, and
that every generate made exactly `--new-tokens` of them (no stop token).
Every arm is called once untimed first (the first call traces). In each
repeat the fast arms (`cached`, `keras_hub`, `cached_no_keep`) are called
`--calls` times each, alternating, and the repeat's time of each is the
median of its calls; the naive loops run once. The order of the arms flips
between repeats. Ratios are taken within a repeat; the table gives medians.

    python benchmarks/vision_lm_generate.py                        # ~3 min
    python benchmarks/vision_lm_generate.py --profile-keep-cache   # ~3.5-4 min
    python benchmarks/vision_lm_generate.py --skip-eager-naive --batch-sizes 1

Prints a table and writes `benchmarks/results/vision_lm_generate.json`.
"""

import argparse
import json
import os
import statistics
import sys
import time

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from keras import ops

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import machine  # noqa: E402
from vlpk.encoders import ImageEncoder, small_cnn  # noqa: E402
from vlpk.models.vision_lm import VisionCausalLM, VisionLMBackbone  # noqa: E402


def build_task(args):
    """`(VisionCausalLM, LlamaCausalLM)` on one Llama backbone, both greedy."""
    keras.utils.set_random_seed(args.seed)
    lm = keras_hub.models.LlamaBackbone(
        vocabulary_size=args.vocabulary_size,
        num_layers=args.layers,
        num_query_heads=args.heads,
        num_key_value_heads=args.key_value_heads or args.heads,
        hidden_dim=args.hidden_dim,
        intermediate_dim=args.intermediate_dim,
    )
    encoder = ImageEncoder(
        small_cnn(args.image_size, widths=tuple(args.widths)), output="tokens"
    )
    backbone = VisionLMBackbone(encoder, lm, attention="causal")
    task = VisionCausalLM(backbone, preprocessor=None)
    task.compile(sampler="greedy", jit_compile=args.jit_compile)
    causal_lm = keras_hub.models.LlamaCausalLM(backbone=lm, preprocessor=None)
    causal_lm.compile(sampler="greedy", jit_compile=args.jit_compile)
    return task, causal_lm


def make_inputs(args, batch, prefix):
    """vlpk's generate inputs, the naive loop's prompt and KerasHub's inputs."""
    rng = np.random.default_rng(args.seed + batch)
    prompt, new = args.prompt_length, args.new_tokens
    images = rng.uniform(0, 255, (batch, args.image_size, args.image_size, 3))
    prompt_ids = rng.integers(3, args.vocabulary_size, (batch, prompt))
    length = prompt + new
    token_ids = np.zeros((batch, length), "int32")
    token_ids[:, :prompt] = prompt_ids
    padding_mask = np.zeros((batch, length), "int32")
    padding_mask[:, :prompt] = 1
    vlpk_inputs = {
        "images": images.astype("float32"),
        "token_ids": token_ids,
        "padding_mask": padding_mask,
        "response_mask": np.zeros_like(padding_mask),
    }
    # KerasHub: as many prompt tokens as vlpk's image prefix and prompt.
    hub_prompt = prefix + prompt
    hub_ids = np.zeros((batch, hub_prompt + new), "int32")
    hub_ids[:, :hub_prompt] = rng.integers(3, args.vocabulary_size, (batch, hub_prompt))
    hub_mask = np.zeros_like(hub_ids)
    hub_mask[:, :hub_prompt] = 1
    hub_inputs = {"token_ids": hub_ids, "padding_mask": hub_mask}
    return vlpk_inputs, prompt_ids.astype("int32"), hub_inputs


def naive_decode(forward, images, prompt_ids, new_tokens):
    """keras-io's loop: the whole sequence through the model per new token."""
    tokens = ops.convert_to_tensor(prompt_ids)
    images = ops.convert_to_tensor(images)
    for _ in range(new_tokens):
        ones = ops.ones_like(tokens)
        logits = forward(
            {
                "images": images,
                "token_ids": tokens,
                "padding_mask": ones,
                "response_mask": ops.zeros_like(tokens),
            }
        )
        last = ops.cast(ops.argmax(logits[:, -1, :], axis=-1), "int32")
        tokens = ops.concatenate([tokens, last[:, None]], axis=1)
    return ops.convert_to_numpy(tokens)[:, prompt_ids.shape[1] :]


def make_arms(args, task, causal_lm, vlpk_inputs, prompt_ids, hub_inputs, ablated=None):
    """`{arm: zero-argument function returning the new tokens [B, new]}`."""
    prompt, new = args.prompt_length, args.new_tokens
    spec = {
        "images": tf.TensorSpec((None, args.image_size, args.image_size, 3), "float32"),
        **{
            name: tf.TensorSpec((None, None), "int32")
            for name in ("token_ids", "padding_mask", "response_mask")
        },
    }
    compiled_forward = tf.function(
        lambda x: task(x, training=False),
        input_signature=[spec],
        jit_compile=args.jit_compile,
    )
    hub_prompt = int(hub_inputs["padding_mask"].sum(axis=1)[0])

    def cached():
        out = task.generate(dict(vlpk_inputs), stop_token_ids=None)
        check_generated(out, prompt, new)
        return out["token_ids"][:, prompt:]

    def naive():
        return naive_decode(
            lambda x: task(x, training=False), vlpk_inputs["images"], prompt_ids, new
        )

    def naive_compiled():
        return naive_decode(compiled_forward, vlpk_inputs["images"], prompt_ids, new)

    def hub():
        out = causal_lm.generate(dict(hub_inputs), stop_token_ids=None)
        check_generated(out, hub_prompt, new)
        return out["token_ids"][:, hub_prompt:]

    arms = {"cached": cached, "naive": naive, "naive_compiled": naive_compiled}
    arms["keras_hub"] = hub
    if ablated is not None:

        def cached_no_keep():
            out = ablated.generate(dict(vlpk_inputs), stop_token_ids=None)
            check_generated(out, prompt, new)
            return out["token_ids"][:, prompt:]

        arms["cached_no_keep"] = cached_no_keep
    if args.skip_eager_naive:
        del arms["naive"]
    return arms


def without_keep_cache(task):
    """`task`, its decoder's cached pass patched to ignore `keep_cache`.

    A profiling arm, not a fix: `ImagePrefixDecoder.call_with_cache` keeps
    the seeded keys of rows still in their prompt by selecting, between the
    old and new cache, the positions the pass wrote (`_keep_rows`). With
    prompts of one length in the batch, that only matters at the first step,
    where the re-fed last prompt token's keys and values come out the same
    anyway (causal attention), so the tokens are still the same; the arm
    bounds what the select still costs.
    """
    decoder = task.backbone.decoder
    call_with_cache = decoder.call_with_cache

    def patched(*args, keep_cache=None, **kwargs):
        return call_with_cache(*args, **kwargs)

    decoder.call_with_cache = patched
    return task


def check_generated(out, prompt, new):
    """Exactly `new` tokens after the prompt, none of them cut by a stop."""
    ids, mask = np.asarray(out["token_ids"]), np.asarray(out["padding_mask"])
    if ids.shape[1] != prompt + new or not mask.all():
        raise SystemExit(
            f"generate made {ids.shape[1] - prompt} tokens (mask all: "
            f"{bool(mask.all())}), not {new}"
        )


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def run_batch(args, task, causal_lm, batch, prefix, ablated=None):
    vlpk_inputs, prompt_ids, hub_inputs = make_inputs(args, batch, prefix)
    arms = make_arms(
        args, task, causal_lm, vlpk_inputs, prompt_ids, hub_inputs, ablated
    )
    tokens = {}
    for name, arm in arms.items():  # the untimed first call: tracing
        tokens[name] = np.asarray(arm())
    seconds = {name: [] for name in arms}
    # The fast arms are called `--calls` times each per repeat, alternating;
    # the slow naive loops once. The order flips between repeats.
    fast = [n for n in ("cached", "keras_hub", "cached_no_keep") if n in arms]
    groups = [fast * args.calls] + [[n] for n in arms if n not in fast]
    for repeat in range(args.repeats):
        order = groups if repeat % 2 == 0 else [g[::-1] for g in groups[::-1]]
        calls = {name: [] for name in arms}
        for name in (n for group in order for n in group):
            s, result = timed(arms[name])
            calls[name].append(s)
            if name != "keras_hub" and not np.array_equal(result, tokens[name]):
                raise SystemExit(f"{name} is not deterministic at batch {batch}")
        for name in arms:
            seconds[name].append(statistics.median(calls[name]))
        line = ", ".join(f"{n} {seconds[n][-1]:.3f} s" for n in arms)
        print(f"  batch {batch} repeat {repeat + 1}: {line}", flush=True)

    def ratios(a, b):
        return [x / y for x, y in zip(seconds[a], seconds[b])]

    per_repeat = {"naive_compiled/cached": ratios("naive_compiled", "cached")}
    if "naive" in arms:
        per_repeat["naive/cached"] = ratios("naive", "cached")
    per_repeat["cached/keras_hub"] = ratios("cached", "keras_hub")
    if "cached_no_keep" in arms:
        per_repeat["cached_no_keep/keras_hub"] = ratios("cached_no_keep", "keras_hub")
    matches = {
        name: bool(np.array_equal(tokens[name], tokens["cached"]))
        for name in arms
        if name != "cached" and name != "keras_hub"
    }
    mismatch = {}
    for name, same in matches.items():
        if not same:
            differs = np.argwhere(tokens[name] != tokens["cached"])
            mismatch[name] = {
                "rows_differing": int(len(np.unique(differs[:, 0]))),
                "first_difference": differs[0].tolist(),
            }
    return {
        "batch_size": batch,
        "seconds": seconds,
        "median_seconds": {n: statistics.median(s) for n, s in seconds.items()},
        "median_tokens_per_s": {
            n: batch * args.new_tokens / statistics.median(s)
            for n, s in seconds.items()
        },
        "ratios": per_repeat,
        "median_ratios": {n: statistics.median(r) for n, r in per_repeat.items()},
        "naive_tokens_match_cached": matches,
        "mismatches": mismatch,
        "cached_tokens_row0": tokens["cached"][0].tolist(),
    }


def parse_args():
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--calls",
        type=int,
        default=5,
        help="calls of `cached` and `keras_hub` per repeat, alternating; the "
        "repeat's time is their median",
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--prompt-length", type=int, default=16)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument(
        "--key-value-heads", type=int, default=None, help="default: --heads"
    )
    parser.add_argument("--intermediate-dim", type=int, default=1024)
    parser.add_argument("--vocabulary-size", type=int, default=2048)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64])
    parser.add_argument(
        "--jit-compile",
        action="store_true",
        help="XLA for generate and the compiled naive forward (default: off, "
        "as Keras's 'auto' on a CPU)",
    )
    parser.add_argument(
        "--skip-eager-naive",
        action="store_true",
        help="leave out the eager `task(inputs)` loop (slow)",
    )
    parser.add_argument(
        "--profile-keep-cache",
        action="store_true",
        help="add `cached_no_keep`: vlpk's generate with the decoder's "
        "per-step `keep_cache` select left out (see `without_keep_cache`)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="benchmarks/results/vision_lm_generate.json")
    return parser.parse_args()


def main():
    args = parse_args()

    task, causal_lm = build_task(args)
    images = np.zeros((1, args.image_size, args.image_size, 3), "float32")
    prefix = int(task.backbone.get_image_tokens(images).shape[1])
    print(
        f"VisionCausalLM: {task.count_params():,} parameters (LM "
        f"{task.backbone.language_model.count_params():,}); image prefix "
        f"{prefix} tokens, prompt {args.prompt_length}, {args.new_tokens} new",
        flush=True,
    )
    ablated = None
    if args.profile_keep_cache:  # a second, identical model (same seed)
        ablated = without_keep_cache(build_task(args)[0])
    results = [
        run_batch(args, task, causal_lm, batch, prefix, ablated)
        for batch in args.batch_sizes
    ]
    out = {
        "machine": machine(),
        "settings": vars(args),
        "parameters": int(task.count_params()),
        "lm_parameters": int(task.backbone.language_model.count_params()),
        "image_prefix_tokens": prefix,
        "results": results,
    }
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)

    arms = list(results[0]["median_seconds"])
    print(
        f"\nmedian seconds for {args.new_tokens} new tokens "
        f"({args.repeats} repeats); ratios are medians of per-repeat ratios"
    )
    print(
        "| batch | "
        + " | ".join(f"{a} s" for a in arms)
        + " | "
        + " | ".join(results[0]["median_ratios"])
        + " | tokens = cached |"
    )
    print("|---" * (2 + len(arms) + len(results[0]["median_ratios"])) + "|")
    for r in results:
        print(
            f"| {r['batch_size']} | "
            + " | ".join(f"{r['median_seconds'][a]:.3f}" for a in arms)
            + " | "
            + " | ".join(f"{v:.2f}" for v in r["median_ratios"].values())
            + " | "
            + ", ".join(
                f"{n}: {'yes' if m else 'NO'}"
                for n, m in r["naive_tokens_match_cached"].items()
            )
            + " |"
        )


if __name__ == "__main__":
    main()
