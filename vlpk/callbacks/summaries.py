"""TensorBoard summaries of a training run: sample captions and the projector."""

import numpy as np


def training_summaries(
    model,
    val,
    image_preprocessor,
    text_preprocessor,
    log_dir,
    *,
    samples=8,
    caption_sampler="greedy",
    every=1,
):
    """The TensorBoard callbacks Keras 3 lacks, for a pretraining run.

    - sample validation images with the model's generated captions (or, for
      models without a captioner, the nearest validation caption and, with
      a matching head, its match probability);
    - the embedding projector, in the run `<log_dir>/projector`: validation
      images and their captions in one space (see `image_text_projector`),
      since `TensorBoard(embeddings_freq=...)` writes nothing usable in
      Keras 3 (keras#20210).

    Args:
        model: the model being trained.
        val: the validation `Example`s.
        image_preprocessor: the training `ImagePreprocessor`.
        text_preprocessor: the training `TextPreprocessor` (its tokenizer
            also decodes generated captions).
        log_dir: the TensorBoard log directory.
        samples: how many validation images to show (0 for none).
        caption_sampler: the sampler of generated captions.
        every: write every `every` epochs.
    """
    from vlpk.callbacks.samples import SampleSummaries
    from vlpk.data.pipelines.pipeline import image_dataset

    count = min(samples, len(val))
    if count == 0:
        return []
    samples = val[:count]
    images = np.concatenate(
        [np.asarray(b) for b in image_dataset(samples, image_preprocessor)]
    )
    describe = _describer(
        model, val, count, image_preprocessor, text_preprocessor, caption_sampler
    )
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
            model, val, image_preprocessor, text_preprocessor, log_dir, every=every
        ),
    ]


def _describer(model, val, count, image_preprocessor, text_preprocessor, sampler):
    """`describe(images)`: a line of text for each of the first `count` images.

    A captioner's generated caption; otherwise the nearest validation caption
    and, with a matching head, its match probability.
    """
    from vlpk.evaluation import (
        caption_decoder_of,
        embed_split,
        generate_split_captions,
    )

    samples = val[:count]
    tokenizer = text_preprocessor.tokenizer
    backbone = getattr(model, "backbone", model)

    def describe(_images):
        if caption_decoder_of(model) is not None:
            return generate_split_captions(
                model, samples, image_preprocessor, tokenizer, sampler
            )
        image_emb, text_emb, owner = embed_split(
            model, val, image_preprocessor, text_preprocessor
        )
        captions = [c for e in val for c in e.captions]
        best = np.argmax(image_emb[:count] @ text_emb.T, axis=-1)
        lines = [f"nearest caption: {captions[i]}" for i in best]
        if getattr(backbone, "matching_head", None) is not None:
            # The matching head's verdict on each (image, nearest caption).
            text = text_preprocessor([captions[i] for i in best])
            logits = np.asarray(_match(backbone, np.asarray(_images, "float32"), text))
            probability = 1.0 / (1.0 + np.exp(-logits))
            lines = [f"{t} (match p={p:.2f})" for t, p in zip(lines, probability)]
        return lines

    return describe


def _match(backbone, images, text):
    """Matching logits of image-text pairs, through the backbone's methods."""
    ids, mask = text["token_ids"], text["padding_mask"]
    if backbone.fuses_tokens:
        image = backbone.get_image_tokens(images)
        text = backbone.get_text_tokens(ids, mask)
    else:  # ConcatFusion reads pooled features
        image = backbone.get_image_features(images)
        text = backbone.get_text_features(ids, mask)
    return backbone.match(image, text, mask)


def image_text_projector(
    model, val, image_preprocessor, text_preprocessor, log_dir, every=1, count=256
):
    """An `EmbeddingProjector` of validation images and their captions.

    It writes one tensor, `image_text_embeddings`, to the run
    `<log_dir>/projector`: the first `count` validation images, then every
    caption of theirs, each row labelled by `modality` (`image` or `text`),
    `caption` (an image's first caption) and `image_id`.

    Args:
        model: a task (or backbone) with image and text embeddings.
        val: the validation `Example`s.
        image_preprocessor: the training `ImagePreprocessor`.
        text_preprocessor: the training `TextPreprocessor`.
        log_dir: the TensorBoard log directory.
        every: write every `every` epochs.
        count: how many validation images to embed.

    Example:
    >>> import os, tempfile, tensorflow as tf
    >>> from vlpk.data import ImagePreprocessor, synthetic
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.models import DualEncoderBackbone
    >>> from vlpk.text import SPECIAL_TOKENS, TextPreprocessor, wordpiece_tokenizer
    >>> shapes, logs = os.path.join(tempfile.mkdtemp(), "shapes"), tempfile.mkdtemp()
    >>> _ = synthetic.write_shapes(shapes, image_size=24, splits={"val": 2},
    ...                            progress=False)
    >>> model = DualEncoderBackbone(ImageEncoder(small_cnn(24, widths=(4,))),
    ...     bert_encoder(5, num_layers=1, num_heads=1, hidden_dim=4,
    ...                  intermediate_dim=8, max_sequence_length=6))
    >>> text_preprocessor = TextPreprocessor(wordpiece_tokenizer(SPECIAL_TOKENS), 6)
    >>> projector = image_text_projector(model, synthetic.read_shapes(shapes, "val"),
    ...                                  ImagePreprocessor(24), text_preprocessor, logs)
    >>> projector.on_epoch_end(0)  # as `fit` calls it after an epoch
    >>> run = os.path.join(logs, "projector")  # 2 images, then their 10 captions
    >>> tf.train.load_checkpoint(run).get_tensor("image_text_embeddings").shape
    (12, 128)
    >>> sorted(f for f in os.listdir(run) if not f.startswith(("events", "image_")))
    ['checkpoint', 'metadata.tsv', 'projector_config.pbtxt', 'sprite.png']
    """
    from vlpk.callbacks.projector import EmbeddingProjector
    from vlpk.data.pipelines.pipeline import image_dataset, text_dataset
    from vlpk.evaluation import embedders, predict_batches

    projected = val[:count]
    images = np.concatenate(
        [np.asarray(b) for b in image_dataset(projected, image_preprocessor)]
    )
    captions = [c for e in projected for c in e.captions]

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
