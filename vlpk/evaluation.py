"""Evaluating a dual encoder: embed a split, then score retrieval."""

import weakref

import keras
import numpy as np

from vlpk.data.pipelines.pipeline import image_dataset, text_dataset
from vlpk.metrics.retrieval import retrieval_metrics

# Each new functional model makes Keras trace a new predict function:
# evaluating every epoch with fresh embedders would retrace every epoch
# (TensorFlow warns about it). The embedders share the backbone's weights,
# so one pair per backbone serves the whole run.
_EMBEDDERS = weakref.WeakKeyDictionary()


def embedders(model):
    """`(image_embedder, text_embedder)` of a task's backbone, built once.

    Functional models over the backbone's `get_image_embeddings` and
    `get_text_embeddings`, which every dual-encoder backbone has (vlpk's, and
    a KerasHub CLIP or SigLIP one); they share its weights.

    Args:
        model: a task (its `backbone` is used) or a backbone.

    Example:
    >>> from vlpk.config import PretrainConfig
    >>> from vlpk.jobs.recipes import build_dual_encoder
    >>> backbone = build_dual_encoder(PretrainConfig().smoke(), 50)
    >>> image_embedder, text_embedder = embedders(backbone)
    >>> image_embedder(np.zeros((2, 64, 64, 3))).shape  # L2-normalized
    TensorShape([2, 16])
    >>> embedders(backbone)[0] is image_embedder  # built once per backbone
    True
    """
    backbone = getattr(model, "backbone", model)
    if backbone not in _EMBEDDERS:
        if getattr(backbone, "inputs", None) is None:
            # A subclassed model (no graph to cut): its methods are the embedders.
            _EMBEDDERS[backbone] = (
                lambda images, training=False: backbone.get_image_embeddings(images),
                lambda text, training=False: backbone.get_text_embeddings(**text),
            )
            return _EMBEDDERS[backbone]
        images = keras.Input(backbone.input["images"].shape[1:], name="images")
        text = {
            name: keras.Input((None,), dtype="int32", name=name)
            for name in ("token_ids", "padding_mask")
        }
        _EMBEDDERS[backbone] = (
            keras.Model(images, backbone.get_image_embeddings(images)),
            keras.Model(text, backbone.get_text_embeddings(**text)),
        )
    return _EMBEDDERS[backbone]


def predict_batches(fn, dataset):
    """`fn(batch, training=False)` over every batch, concatenated (numpy).

    Example:
    >>> import tensorflow as tf
    >>> batches = tf.data.Dataset.range(5).batch(2)  # [0 1], [2 3], [4]
    >>> predict_batches(lambda batch, training: batch * 10, batches)
    array([ 0, 10, 20, 30, 40])
    """
    return np.concatenate([np.asarray(fn(batch, training=False)) for batch in dataset])


def embed_split(model, examples, image_preprocessor, text_preprocessor):
    """Embeds every image and every caption of `examples`.

    Returns:
        `(image_embeddings [N, D], text_embeddings [M, D], text_to_image [M])`.
    """
    image_embedder, text_embedder = embedders(model)
    images = predict_batches(
        image_embedder, image_dataset(examples, image_preprocessor)
    )
    captions, owner = [], []
    for index, example in enumerate(examples):
        captions.extend(example.captions)
        owner.extend([index] * len(example.captions))
    texts = predict_batches(text_embedder, text_dataset(captions, text_preprocessor))
    return images, texts, np.asarray(owner)


def evaluate_retrieval(model, examples, image_preprocessor, text_preprocessor):
    """Image→text and text→image Recall@1/5/10 and ranks on `examples`.

    Example:
    >>> import os, tempfile
    >>> from vlpk.data import ImagePreprocessor, synthetic
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.models import DualEncoderBackbone
    >>> from vlpk.text import SPECIAL_TOKENS, TextPreprocessor, wordpiece_tokenizer
    >>> root = os.path.join(tempfile.mkdtemp(), "shapes")
    >>> _ = synthetic.write_shapes(root, image_size=24, splits={"test": 3},
    ...                            progress=False)
    >>> test = synthetic.read_shapes(root, "test")  # 3 images, 5 captions each
    >>> words = [*SPECIAL_TOKENS, *synthetic.COLORS, *synthetic.SHAPES]
    >>> model = DualEncoderBackbone(ImageEncoder(small_cnn(24, widths=(4,))),
    ...     bert_encoder(len(words), num_layers=1, num_heads=2, hidden_dim=8,
    ...                  intermediate_dim=16, max_sequence_length=12))
    >>> metrics = evaluate_retrieval(model, test, ImagePreprocessor(24),
    ...     TextPreprocessor(wordpiece_tokenizer(words), 12))
    >>> metrics["t2i_r5"]  # in 3 images, every caption finds its own in the top 5
    100.0
    >>> sorted(metrics)  # doctest: +NORMALIZE_WHITESPACE
    ['i2t_mean_rank', 'i2t_median_rank', 'i2t_r1', 'i2t_r10', 'i2t_r5', 'rsum',
     't2i_mean_rank', 't2i_median_rank', 't2i_r1', 't2i_r10', 't2i_r5']
    """
    images, texts, owner = embed_split(
        model, examples, image_preprocessor, text_preprocessor
    )
    return retrieval_metrics(images, texts, owner)


def evaluate_objectives(model, dataset):
    """Each head's loss and accuracy on a held-out `pretraining_dataset`.

    The matching accuracy counts, over every positive pair and its two
    hardest in-batch negatives (at inference the sampler takes the arg-max),
    the pairs classified correctly. Masked-LM and captioning accuracies count
    the real target tokens predicted exactly.

    Returns:
        A dict such as `{"matching_accuracy": ..., "masked_lm_accuracy": ...,
        "captioning_accuracy": ..., "<head>_loss": ..., "loss": ...}`.
    """
    return {
        key: float(value)
        for key, value in model.evaluate(dataset, verbose=0, return_dict=True).items()
    }


def generate_split_captions(
    model,
    examples,
    image_preprocessor,
    tokenizer,
    sampler="greedy",
    batch_size=64,
    **sampler_kwargs,
):
    """Captions every image of `examples` with a task's caption decoder.

    Unlike `task.generate`, it needs no preprocessor on the task: training
    callbacks caption while the task reads preprocessed batches.

    `sampler` is a KerasHub sampler or its name ("greedy", "beam", "top_k");
    `sampler_kwargs` configure a named one (`num_beams=3`, `k=5, seed=0`).

    Returns:
        A list of strings, one per example.
    """
    from vlpk.generation import decode_captions, generate_captions

    image_tokens, decoder = caption_parts(model)
    captions = []
    for batch in image_dataset(examples, image_preprocessor, batch_size):
        ids = generate_captions(
            decoder,
            image_tokens(batch),
            tokenizer.start_token_id,
            tokenizer.end_token_id,
            sampler=sampler,
            **sampler_kwargs,
        )
        captions.extend(decode_captions(ids, tokenizer))
    return captions


def caption_parts(task):
    """`(get_image_tokens, caption_decoder)` of a captioning task or backbone."""
    decoder = caption_decoder_of(task)
    if decoder is None:
        raise ValueError(f"{task.name} has no caption decoder to generate with.")
    return getattr(task, "backbone", task).get_image_tokens, decoder


def caption_decoder_of(task):
    """The caption decoder of a task or backbone, or None.

    A task's own head when it has one (an `ImageCaptioner` on a backbone
    without a decoder), else the backbone's.
    """
    decoder = getattr(task, "caption_decoder", None)
    if decoder is None:
        decoder = getattr(getattr(task, "backbone", None), "caption_decoder", None)
    return decoder


def caption_bleu(references, candidates):
    """Corpus BLEU-4 (KerasHub's `Bleu`, the monitoring metric), in percent.

    Args:
        references: one list of reference captions per image.
        candidates: one generated caption per image.
    """
    import keras_hub

    bleu = keras_hub.metrics.Bleu(max_order=4)
    bleu.update_state([list(r) for r in references], list(candidates))
    return 100.0 * float(bleu.result())


def evaluate_with_mismatched_images(model, dataset):
    """`evaluate_objectives` with every caption paired with another image.

    Images are rolled by one position inside each batch, so each caption
    meets the image of its neighbour. A masked-LM or captioning head that
    really reads the image loses accuracy here; one that only learned the
    language of the captions does not. Compare with `evaluate_objectives`.
    """
    import tensorflow as tf

    def mismatch(x, y):
        return dict(x, images=tf.roll(x["images"], shift=1, axis=0)), y

    return evaluate_objectives(model, dataset.map(mismatch))
