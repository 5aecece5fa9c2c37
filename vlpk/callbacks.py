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
    - the embedding projector (image embeddings, labelled by a reference
      caption, with a sprite of the images), since `TensorBoard(
      embeddings_freq=...)` writes nothing usable in Keras 3 (keras#20210).
    """
    from vlpk.data.pipeline import image_dataset
    from vlpk.evaluation import embed_split, generate_split_captions
    from vlpk.tensorboard import EmbeddingProjector, SampleSummaries

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

    projected = val[: min(len(val), 256)]
    projected_images = np.concatenate(
        [np.asarray(b) for b in image_dataset(projected, image_preprocessor)]
    )

    def embed():
        embedder = model.image_embedder()
        return np.asarray(embedder.predict(projected_images, verbose=0))

    return [
        SampleSummaries(
            log_dir,
            images,
            describe,
            every=every,
            max_outputs=count,
            references=[e.captions[0] for e in samples],
        ),
        EmbeddingProjector(
            log_dir,  # TensorBoard looks for projector files at the root
            embed,
            images=projected_images,
            labels=[e.captions[0] for e in projected],
            every=every,
        ),
    ]
