"""What pretraining buys: each downstream task, pretrained vs from scratch.

Fine-tunes a pretraining run (by default `runs/albef`, from
`vlpk pretrain --config training/configs/shapes_albef.py --workdir runs/albef`)
on retrieval, classification, VQA and captioning with the configs in
`training/configs/finetune_*.py`, then repeats each with the same
architecture from random weights for the same number of steps. Each run goes
to `<out>/<task>_{pretrained,scratch}`; the table is printed and saved to
`<out>/downstream.json` and `<out>/downstream.md`.

    python training/shapes_downstream.py --from runs/albef --out runs/downstream
"""

import argparse
import json
import os

from vlpk.config import load_config
from vlpk.jobs.finetune import run_finetune

CONFIGS = {
    "retrieval": "training/configs/finetune_retrieval.py",
    "classify": "training/configs/finetune_classify.py",
    "vqa": "training/configs/finetune_vqa.py",
    "caption": "training/configs/finetune_caption.py",
}


def headline(task, metrics):
    """The one figure per task that docs/results.md reports."""
    if task == "retrieval":
        return {
            "i2t_r1": metrics["contrastive"]["i2t_r1"],
            "t2i_r1": metrics["contrastive"]["t2i_r1"],
            "i2t_r1_reranked": metrics.get("reranked", {}).get("i2t_r1"),
            "t2i_r1_reranked": metrics.get("reranked", {}).get("t2i_r1"),
        }
    if task == "classify":
        return {
            "zero_shot_top1": metrics["zero_shot"]["top1"],
            "finetuned_top1": metrics["finetuned"]["top1"],
        }
    if task == "vqa":
        return {"vqa_accuracy": metrics["vqa"]["overall"]}
    return {
        "CIDEr": metrics["caption"]["CIDEr"],
        "Bleu_4": metrics["caption"]["Bleu_4"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", default="runs/albef")
    parser.add_argument("--out", default="runs/downstream")
    parser.add_argument("--tasks", default=",".join(CONFIGS))
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    table = {}
    for task in args.tasks.split(","):
        config = load_config(CONFIGS[task], smoke=args.smoke)
        for scratch in (False, True):
            name = f"{task}_{'scratch' if scratch else 'pretrained'}"
            metrics = run_finetune(
                config, args.source, os.path.join(args.out, name), scratch=scratch
            )
            table[name] = dict(
                headline(task, metrics),
                steps=metrics["steps"],
                seconds=metrics["seconds"],
            )
            with open(os.path.join(args.out, "downstream.json"), "w") as f:
                json.dump(table, f, indent=2)
    lines = ["| run | figures | steps |", "|---|---|---|"]
    for name, row in table.items():
        figures = ", ".join(
            # Caption scores are on pycocoevalcap's 0-1 scale; papers print x100.
            f"{k} {100 * v:.1f}" if k in ("CIDEr", "Bleu_4") else f"{k} {v:.1f}"
            for k, v in row.items()
            if k not in ("steps", "seconds") and v is not None
        )
        lines.append(f"| {name} | {figures} | {row['steps']} |")
    with open(os.path.join(args.out, "downstream.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
