"""Image-text retrieval: contrastive ranking, matching-head re-ranking, fine-tuning.

Evaluation follows the COCO 5k protocol: every image of the split against
every caption of the split, each image owning several captions (see
`vlpk.metrics.retrieval`). Re-ranking is ALBEF's: the contrastive
similarities pick each query's top `k` candidates, the image-text matching
head scores those `k` pairs, and the candidates are re-ordered by that
score; the others keep their contrastive order below them.
"""

import dataclasses
import sys

import keras
import numpy as np

from vlpk.data.pipelines.pipeline import image_dataset, text_dataset
from vlpk.errors import InputError
from vlpk.evaluation import embed_split, predict_batches
from vlpk.metrics.chunked_retrieval import RERANK_GAP, chunked_retrieval
from vlpk.models.vision_language import ImageTextPretrainer

_BELOW = RERANK_GAP


def rerank(similarity, k, score_pairs):
    """Re-scores each row's top-`k` columns with `score_pairs`.

    Args:
        similarity: `[rows, cols]` first-stage scores.
        k: how many candidates per row to re-score.
        score_pairs: `score_pairs(rows, cols)` → one score per (row, column)
            pair, for two int arrays of equal length.

    Returns:
        A float64 `[rows, cols]` matrix: the new scores at each row's top-`k`
        columns, the old scores minus `1e6` elsewhere, so every re-scored
        candidate ranks above every other one.

    Example:
    >>> rerank(np.array([[0.9, 0.5, 0.1]]), 2, lambda r, c: 1.0 - c).tolist()
    [[1.0, 0.0, -999999.9]]
    """
    similarity = np.asarray(similarity, np.float64)
    k = min(int(k), similarity.shape[1])
    if k < 1:
        raise ValueError(f"k must be positive, got {k}.")
    top = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(similarity.shape[0]), k)
    cols = top.reshape(-1)
    reranked = similarity - _BELOW
    reranked[rows, cols] = np.asarray(score_pairs(rows, cols), np.float64)
    return reranked


def _features(backbone, examples, image_preprocessor, text_preprocessor):
    """What `backbone.match` reads, for every image and caption of `examples`.

    Tokens for a token-level fusion layer, pooled features for `ConcatFusion`.
    """
    kind = "tokens" if backbone.fuses_tokens else "features"
    get_image = getattr(backbone, f"get_image_{kind}")
    get_text = getattr(backbone, f"get_text_{kind}")
    images = predict_batches(
        lambda batch, training: get_image(batch),
        image_dataset(examples, image_preprocessor),
    )
    captions = [c for e in examples for c in e.captions]
    texts, masks = [], []
    for batch in text_dataset(captions, text_preprocessor):
        texts.append(np.asarray(get_text(batch["token_ids"], batch["padding_mask"])))
        masks.append(np.asarray(batch["padding_mask"], np.int32))
    return images, np.concatenate(texts), np.concatenate(masks)


def pair_scorer(
    backbone, examples, image_preprocessor, text_preprocessor, batch_size=256
):
    """A `score_pairs(image_indices, text_indices)` function for `rerank`.

    Image and text features are computed once; each call runs only the
    fusion encoder and the matching head (`backbone.match`), in batches,
    with a progress bar.
    """
    images, texts, masks = _features(
        backbone, examples, image_preprocessor, text_preprocessor
    )

    def score_pairs(image_indices, text_indices):
        scores = []
        # A live bar on a terminal; one line at the end in logs and pipes.
        verbose = 1 if sys.stdout.isatty() else 2
        bar = keras.utils.Progbar(len(image_indices), verbose=verbose, unit_name="pair")
        for start in range(0, len(image_indices), batch_size):
            i = image_indices[start : start + batch_size]
            t = text_indices[start : start + batch_size]
            logits = backbone.match(images[i], texts[t], masks[t])
            scores.append(np.asarray(logits))
            bar.add(len(i))
        return np.concatenate(scores)

    return score_pairs


def retrieval_scores(
    model, examples, image_preprocessor, text_preprocessor, rerank_k=None
):
    """Recall@1/5/10 and ranks, contrastive and (optionally) re-ranked.

    Args:
        model: a task, or its backbone (a `DualEncoderBackbone` or
            `VisionLanguageBackbone`; KerasHub CLIP and SigLIP ones too).
        examples: the split's `Example`s (each with its captions).
        image_preprocessor: an `ImagePreprocessor`.
        text_preprocessor: a `TextPreprocessor`.
        rerank_k: re-rank each query's top `k` with the matching head
            (needs a model trained with `matching`); None to skip.

    Returns:
        `{"contrastive": metrics}`, plus `"reranked": metrics` and
        `"rerank_k"` when re-ranking; metrics as in `retrieval_metrics`.

    Example:
    >>> import contextlib, io, os, tempfile
    >>> from vlpk.data import ImagePreprocessor, synthetic
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.layers import CrossAttentionFusion
    >>> from vlpk.models import VisionLanguageBackbone
    >>> from vlpk.text import SPECIAL_TOKENS, TextPreprocessor, wordpiece_tokenizer
    >>> backbone = VisionLanguageBackbone(  # ALBEF: a fusion encoder to re-rank with
    ...     ImageEncoder(small_cnn(24, widths=(4,)), output="tokens"),
    ...     bert_encoder(8, num_layers=1, num_heads=2, hidden_dim=8,
    ...                  intermediate_dim=16, max_sequence_length=10),
    ...     fusion=CrossAttentionFusion(1, 2, 16), embedding_dim=4)
    >>> root = os.path.join(tempfile.mkdtemp(), "shapes")
    >>> paths = synthetic.write_shapes(root, image_size=24, splits={"test": 2},
    ...                                progress=False)
    >>> text = TextPreprocessor(wordpiece_tokenizer([*SPECIAL_TOKENS, "a", "red"]), 10)
    >>> with contextlib.redirect_stdout(io.StringIO()):  # the re-ranker's progress bar
    ...     scores = retrieval_scores(backbone, synthetic.read_shapes(root, "test"),
    ...                               ImagePreprocessor(24), text, rerank_k=2)
    >>> sorted(scores), scores["rerank_k"], scores["reranked"]["t2i_r5"]
    (['contrastive', 'rerank_k', 'reranked'], 2, 100.0)
    """
    images, texts, owner = embed_split(
        model, examples, image_preprocessor, text_preprocessor
    )
    backbone = getattr(model, "backbone", model)
    score = None
    if rerank_k:
        if getattr(backbone, "matching_head", None) is None:
            raise ValueError(
                "Re-ranking needs a matching head: pretrain with the 'matching' "
                "objective (e.g. training/configs/shapes_albef.py), or drop "
                "rerank_k."
            )
        score = pair_scorer(backbone, examples, image_preprocessor, text_preprocessor)
    # Chunk by chunk, in bounded memory; each direction is read from its own
    # re-ranked scores.
    return chunked_retrieval(images, texts, owner, rerank_k=rerank_k, score_pairs=score)


def captions_protocol(examples, split_protocol, captions_per_image=None):
    """The examples to rank, and the protocol's name for the results.

    Papers score COCO's 5k test two ways: every caption of each image
    (ALBEF's and BLIP's `re_eval_dataset`: 25,010 captions) or each image's
    first five (VSE++ and SCAN: 25,000). Flickr30k's 1k test has five an
    image, so both agree there.

    Args:
        examples: the split's `Example`s.
        split_protocol: the split's name, e.g. `"karpathy-coco test"`.
        captions_per_image: keep the first `N` captions of each image;
            None keeps them all.

    Returns:
        `(examples, protocol)`, e.g. `"karpathy-coco test, first 5 captions
        an image"`.

    Example:
    >>> from vlpk.data import Example
    >>> examples, name = captions_protocol(
    ...     [Example("a.jpg", 1, ("a", "b", "c"))], "karpathy-coco test", 2)
    >>> examples[0].captions, name
    (('a', 'b'), 'karpathy-coco test, first 2 captions an image')
    """
    if captions_per_image is None:
        return list(examples), f"{split_protocol}, all captions"
    if captions_per_image < 1:
        raise InputError(
            f"captions_per_image must be positive, got {captions_per_image}."
        )
    kept = [
        dataclasses.replace(e, captions=tuple(e.captions[:captions_per_image]))
        for e in examples
    ]
    return kept, f"{split_protocol}, first {captions_per_image} captions an image"


def retrieval_task(source, seed=0):
    """The task to fine-tune for retrieval: contrastive (and matching) heads.

    A task training just those is fine-tuned as it is. An `ImageTextPretrainer`
    with masked-LM or captioning heads gives a new `ImageTextPretrainer` on
    the same backbone (shared, so nothing is copied) training `contrastive`
    and, when the backbone has a matching head, `matching`: the other heads
    are not needed for retrieval.

    Args:
        source: a `ContrastivePretrainer` or `ImageTextPretrainer`.
        seed: the seed of the new task's hard-negative sampler.

    Returns:
        A task without a preprocessor: the fine-tuning job feeds batches
        preprocessed in `tf.data`.
    """
    objectives = tuple(getattr(source, "objectives", ("contrastive",)))
    kept = tuple(o for o in ("contrastive", "matching") if o in objectives)
    if kept == objectives:
        return source
    return ImageTextPretrainer(
        source.backbone, objectives=kept, seed=seed, compile=False, name="retrieval"
    )
