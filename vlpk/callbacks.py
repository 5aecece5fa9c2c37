"""Keras callbacks for vision-language training."""

import keras
import numpy as np

from vlpk.evaluation import caption_bleu, evaluate_retrieval, generate_split_captions


class RetrievalEvaluation(keras.callbacks.Callback):
    """Computes validation Recall@K after each epoch and adds it to the logs.

    Put it *before* `keras.callbacks.TensorBoard` in the callback list: the
    values it adds to `logs` (`val_i2t_r1`, ..., `temperature`) are then
    written to TensorBoard and seen by `ModelCheckpoint` and `EarlyStopping`.

    Args:
        examples: the validation `Example`s.
        image_preprocessor: the training `ImagePreprocessor`.
        text_preprocessor: the training `TextPreprocessor`.
        every: evaluate every `every` epochs.

    Example:
    >>> callbacks = [RetrievalEvaluation(val, image_pre, text_pre),
    ...              keras.callbacks.TensorBoard("logs")]
    """

    def __init__(self, examples, image_preprocessor, text_preprocessor, every=1):
        super().__init__()
        self.examples = examples
        self.image_preprocessor = image_preprocessor
        self.text_preprocessor = text_preprocessor
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.every:
            return
        metrics = evaluate_retrieval(
            self.model, self.examples, self.image_preprocessor, self.text_preprocessor
        )
        for key in ("i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10"):
            logs[f"val_{key}"] = metrics[key]
        logs["temperature"] = self.model.temperature


class CaptionBleu(keras.callbacks.Callback):
    """Generates validation captions after each epoch and logs their BLEU-4.

    The monitoring metric of captioning runs: KerasHub's corpus `Bleu`
    (`max_order=4`, in percent) of greedy captions against each image's
    references, added to the logs as `val_bleu4`. Put it *before*
    `keras.callbacks.TensorBoard` so TensorBoard, `ModelCheckpoint` and
    `EarlyStopping` see it. The reported scores of a finished model come from
    `vlpk.metrics.captioning` (the COCO caption evaluation), not from this.

    Args:
        examples: the validation `Example`s (with their captions).
        image_preprocessor: the training `ImagePreprocessor`.
        tokenizer: the KerasHub tokenizer (for `[CLS]`, `[SEP]` and decoding).
        every: evaluate every `every` epochs.
        max_images: caption at most this many images (the first ones).

    Example:
    >>> callbacks = [CaptionBleu(val, image_pre, tokenizer),
    ...              keras.callbacks.TensorBoard("logs")]
    """

    def __init__(self, examples, image_preprocessor, tokenizer, every=1, max_images=64):
        super().__init__()
        self.examples = list(examples)[:max_images]
        self.image_preprocessor = image_preprocessor
        self.tokenizer = tokenizer
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.every:
            return
        captions = generate_split_captions(
            self.model, self.examples, self.image_preprocessor, self.tokenizer
        )
        logs["val_bleu4"] = caption_bleu([e.captions for e in self.examples], captions)


def training_summaries(
    config, model, val, image_preprocessor, tokenizer, log_dir, every=1
):
    """The TensorBoard callbacks Keras 3 lacks, for a pretraining run.

    - sample validation images with the model's generated captions (or, for
      models without a captioner, the nearest validation caption and, with
      a matching head, its match probability);
    - the embedding projector, in the run `<log_dir>/projector`: validation
      images and their captions in one space (see `image_text_projector`),
      since `TensorBoard(embeddings_freq=...)` writes nothing usable in
      Keras 3 (keras#20210).
    """
    from vlpk.data.pipeline import image_dataset
    from vlpk.evaluation import embed_split, generate_split_captions
    from vlpk.tensorboard import SampleSummaries

    count = min(config.tensorboard_samples, len(val))
    if count == 0:
        return []
    samples = val[:count]
    images = np.concatenate(
        [np.asarray(b) for b in image_dataset(samples, image_preprocessor)]
    )
    text_preprocessor = None

    def describe(_images):
        if getattr(model, "caption_decoder", None) is not None:
            return generate_split_captions(
                model, samples, image_preprocessor, tokenizer, config.caption_sampler
            )
        nonlocal text_preprocessor
        if text_preprocessor is None:
            from vlpk.text import TextPreprocessor

            text_preprocessor = TextPreprocessor(tokenizer, config.sequence_length)
        image_emb, text_emb, owner = embed_split(
            model, val, image_preprocessor, text_preprocessor
        )
        captions = [c for e in val for c in e.captions]
        best = np.argmax(image_emb[:count] @ text_emb.T, axis=-1)
        lines = [f"nearest caption: {captions[i]}" for i in best]
        if getattr(model, "matching_head", None) is not None:
            # The matching head's verdict on each (image, nearest caption).
            text = text_preprocessor([captions[i] for i in best])
            pairs = {"images": np.asarray(_images, "float32")}
            pairs.update({k: np.asarray(v) for k, v in text.items()})
            logits = np.asarray(model.matcher()(pairs, training=False))
            probability = 1.0 / (1.0 + np.exp(-logits))
            lines = [f"{t} (match p={p:.2f})" for t, p in zip(lines, probability)]
        return lines

    return [
        SampleSummaries(
            log_dir,
            images,
            describe,
            every=every,
            max_outputs=count,
            references=[e.captions[0] for e in samples],
        ),
        image_text_projector(
            config, model, val, image_preprocessor, tokenizer, log_dir, every
        ),
    ]


def image_text_projector(
    config, model, val, image_preprocessor, tokenizer, log_dir, every=1, count=256
):
    """An `EmbeddingProjector` of validation images and their captions.

    It writes one tensor, `image_text_embeddings`, to the run
    `<log_dir>/projector`: the first `count` validation images, then every
    caption of theirs, each row labelled by `modality` (`image` or `text`),
    `caption` (an image's first caption) and `image_id`.

    Args:
        config: the `PretrainConfig` (for `sequence_length`).
        model: a model with `image_embedder()` and `text_embedder()`.
        val: the validation `Example`s.
        image_preprocessor: the training `ImagePreprocessor`.
        tokenizer: the KerasHub tokenizer.
        log_dir: the TensorBoard log directory.
        every: write every `every` epochs.
        count: how many validation images to embed.

    Example:
    >>> callbacks = [image_text_projector(config, model, val, image_pre,
    ...                                   tokenizer, "logs")]
    """
    from vlpk.data.pipeline import image_dataset, text_dataset
    from vlpk.evaluation import embedders, predict_batches
    from vlpk.tensorboard import EmbeddingProjector
    from vlpk.text import TextPreprocessor

    projected = val[:count]
    images = np.concatenate(
        [np.asarray(b) for b in image_dataset(projected, image_preprocessor)]
    )
    captions = [c for e in projected for c in e.captions]
    text_preprocessor = TextPreprocessor(tokenizer, config.sequence_length)

    def embed():
        image_embedder, text_embedder = embedders(model)  # built once, see there
        image_embeddings = image_embedder.predict(images, verbose=0)
        text_embeddings = predict_batches(
            text_embedder, text_dataset(captions, text_preprocessor)
        )
        return np.concatenate([image_embeddings, text_embeddings])

    # One tensor for both modalities, so that PCA, t-SNE and UMAP place
    # images and captions in one space, where a caption near its image is
    # what the contrastive loss trains for; two tensors would be projected
    # apart and could not be compared. The sprite has a cell per row, and
    # caption rows keep theirs blank: a caption drawn into a 64 px tile is
    # unreadable, and hovering shows the label in full. Colour by `modality`
    # to tell the two apart, search an `image_id` to find a pair.
    labels = {
        "modality": ["image"] * len(projected) + ["text"] * len(captions),
        "caption": [e.captions[0] for e in projected] + captions,
        "image_id": [e.image_id for e in projected]
        + [e.image_id for e in projected for _ in e.captions],
    }
    return EmbeddingProjector(
        log_dir,
        embed,
        images=images,
        labels=labels,
        name="image_text_embeddings",
        every=every,
    )
