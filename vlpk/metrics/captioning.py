"""COCO caption metrics (BLEU 1-4, METEOR, ROUGE-L, CIDEr) via `pycocoevalcap`.

`coco_caption_scores` runs the scorers of `pycocoevalcap.eval.COCOEvalCap`
the way it does: the Stanford PTB tokenizer over the references and the
candidates (lowercased, punctuation dropped), then `Bleu(4)`, `Meteor()`,
`Rouge()` and `Cider()` over the tokenized captions of the evaluated images,
which are the candidate images, as in the pycocoevalcap example
(`coco_eval.params['image_id'] = coco_result.getImgIds()`). SPICE is left
out: it downloads Stanford CoreNLP models on first use.

The scores are the raw pycocoevalcap values: BLEU, METEOR and ROUGE-L lie in
[0, 1], CIDEr in [0, 10] (papers report them multiplied by 100). CIDEr's
document frequencies come from the evaluated references, so scores on a small
subset differ from those on the full split.

The tokenizer and METEOR are Java programs: a Java runtime must be on `PATH`
(`apt install default-jre`), and `pycocoevalcap` must be installed
(`pip install "vlpk[eval]"`).
"""

import contextlib
import importlib
import io
import shutil

from vlpk.errors import InputError, list_ids

# The keys of the returned dict, in COCOEvalCap's order.
METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")


def coco_caption_scores(references, candidates):
    """BLEU 1-4, METEOR, ROUGE-L and CIDEr of `candidates`, as COCOEvalCap.

    Args:
        references: `{image_id: [caption, ...]}`, the reference captions
            (5 per image in COCO). Images without a candidate are ignored.
        candidates: `{image_id: caption}`, one generated caption per image;
            these are the images evaluated.

    Returns:
        `{"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L",
        "CIDEr"}` mapped to floats on pycocoevalcap's scale (0-1; CIDEr 0-10).

    Raises:
        InputError: (a `ValueError`) when there are no candidates, a candidate
            image has no references, a caption is not a string,
            `pycocoevalcap` is not installed, or no Java runtime is on `PATH`.

    Example:
    >>> references = {1: ["a dog runs on the grass", "a brown dog running"],
    ...               2: ["two cats sleep on a bed", "cats asleep on a bed"]}
    >>> scores = coco_caption_scores(references, {1: "a dog runs", 2: "cats"})
    >>> sorted(scores) == sorted(METRICS)
    True
    """
    gts, res = _coco_inputs(references, candidates)
    scorers = _import_scorers()
    if shutil.which("java") is None:
        raise InputError(
            "The COCO caption metrics need a Java runtime: pycocoevalcap's PTB "
            "tokenizer and METEOR are Java programs, and no `java` is on PATH. "
            "Install one (e.g. `apt install default-jre`) and run again."
        )
    scores = {}
    # The scorers print progress (Bleu its n-gram counts) to stdout.
    with contextlib.redirect_stdout(io.StringIO()):
        tokenizer = scorers["PTBTokenizer"]()
        gts = tokenizer.tokenize(gts)
        res = tokenizer.tokenize(res)
        bleu, _ = scorers["Bleu"](4).compute_score(gts, res)
        scores.update(zip(METRICS[:4], bleu))
        meteor = scorers["Meteor"]()
        try:
            scores["METEOR"], _ = meteor.compute_score(gts, res)
        finally:
            _close_meteor(meteor)
        scores["ROUGE_L"], _ = scorers["Rouge"]().compute_score(gts, res)
        scores["CIDEr"], _ = scorers["Cider"]().compute_score(gts, res)
    return {name: float(scores[name]) for name in METRICS}


def _coco_inputs(references, candidates):
    """The `{image_id: [{"caption": ...}]}` dicts COCOEvalCap tokenizes."""
    if not candidates:
        raise InputError("There are no candidate captions to evaluate.")
    unknown = [image_id for image_id in candidates if image_id not in references]
    if unknown:
        raise InputError(
            f"{len(unknown)} candidate image id(s) have no reference captions: "
            f"{list_ids(unknown)}. Evaluate against the references of the "
            "split you captioned (and check that the ids are integers)."
        )
    gts = {}
    res = {}
    for image_id, caption in candidates.items():
        if not isinstance(caption, str):
            raise InputError(
                f"The candidate caption of image {image_id!r} should be a "
                f"string, got {type(caption).__name__}."
            )
        captions = references[image_id]
        if (
            isinstance(captions, str)
            or not isinstance(captions, (list, tuple))
            or not captions
            or not all(isinstance(c, str) for c in captions)
        ):
            raise InputError(
                f"The references of image {image_id!r} should be a non-empty "
                "list of strings."
            )
        gts[image_id] = [{"caption": c} for c in captions]
        res[image_id] = [{"caption": caption}]
    return gts, res


def _import_scorers():
    modules = {
        "PTBTokenizer": "pycocoevalcap.tokenizer.ptbtokenizer",
        "Bleu": "pycocoevalcap.bleu.bleu",
        "Meteor": "pycocoevalcap.meteor.meteor",
        "Rouge": "pycocoevalcap.rouge.rouge",
        "Cider": "pycocoevalcap.cider.cider",
    }
    try:
        return {
            name: getattr(importlib.import_module(module), name)
            for name, module in modules.items()
        }
    except ImportError as error:
        raise InputError(
            "The COCO caption metrics need pycocoevalcap, which is not "
            f'installed ({error}). Install it with `pip install "vlpk[eval]"`.'
        ) from None


def _close_meteor(meteor):
    """Ends METEOR's Java process now, rather than whenever `__del__` runs."""
    close = getattr(meteor, "close", None)
    if callable(close):  # newer pycocoevalcap versions
        close()
        return
    process = getattr(meteor, "meteor_p", None)
    if process is None:
        return
    # What pycocoevalcap 1.2's `__del__` does; it stays harmless when `__del__`
    # repeats it later (closing is idempotent, killing a reaped process a
    # no-op).
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    if process.poll() is None:
        process.kill()
    process.wait()
