"""The few figures of a vision-language LM run worth printing."""


def vision_lm_summary(metrics):
    """Generated-VQA accuracy, CIDEr and POPE accuracy/F1/yes-ratio, rounded.

    Example:
    >>> pope = {"accuracy": 0.9, "f1": 0.91234, "yes_ratio": 0.5}
    >>> vision_lm_summary({"stage": "instruct", "vqa": {"overall": 81.5},
    ...     "caption": {"CIDEr": 1.23456}, "pope": {"random": pope},
    ...     "train_loss": [2.0, 1.0], "seconds": 10.0})["pope"]["random"]["f1"]
    0.912
    """
    if metrics.get("chief") is False:
        return metrics  # a worker that only trained: no scores to print
    final_loss = round(metrics["train_loss"][-1], 4) if metrics["train_loss"] else None
    if "vqa" not in metrics:  # conversation shards: see `vision_lm_shard_eval`
        test = metrics.get("test") or {}
        return {
            "stage": metrics["stage"],
            **{k: round(v, 4) for k, v in test.items() if isinstance(v, float)},
            "answers_file": test.get("answers_file"),
            "final_loss": final_loss,
            "seconds": metrics["seconds"],
        }
    return {
        "stage": metrics["stage"],
        "vqa_accuracy": metrics["vqa"]["overall"],
        "cider": round(metrics["caption"]["CIDEr"], 3),
        "pope": {
            strategy: {k: round(scores[k], 3) for k in ("accuracy", "f1", "yes_ratio")}
            for strategy, scores in metrics["pope"].items()
        },
        "final_loss": final_loss,
        "seconds": metrics["seconds"],
    }
