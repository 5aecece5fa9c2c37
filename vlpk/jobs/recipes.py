"""Recipes: turn a config into the public objects a user would build by hand.

Nothing here is hidden machinery: each function is the few lines of
composition a notebook would write (encoders → model → losses → optimizer).
Each block of a `PretrainConfig` has its builder: `build_image_encoder(
config.image)`, `build_text_encoder(config.text, vocabulary_size)`,
`build_fusion_encoder(config.fusion)`, `build_caption_decoder(config.decoder,
...)`, `build_optimizer(config.optimization, total_steps)`.
"""

import keras
import keras_hub

from vlpk.config import KERAS_CV_PREFIX, applications_constructor
from vlpk.encoders import (
    ImageEncoder,
    applications_backbone,
    bert_encoder,
    distilbert_encoder,
    image_encoder_from_keras_cv,
    image_encoder_from_keras_hub,
    roberta_encoder,
    small_cnn,
    text_encoder_from_preset,
)
from vlpk.encoders.applications import APPLICATION_NAMES
from vlpk.encoders.keras_cv_image import import_keras_cv
from vlpk.encoders.weights import load_application, load_preset_backbone
from vlpk.errors import InputError
from vlpk.layers import CaptionDecoder, ConcatFusion, CrossAttentionFusion
from vlpk.losses import CaptioningLoss, ContrastiveLoss, SigmoidContrastiveLoss
from vlpk.metrics.token_accuracy import MaskedTokenAccuracy
from vlpk.models.captioning import ImageCaptioner
from vlpk.models.contrastive import ContrastivePretrainer, DualEncoderBackbone
from vlpk.models.vision_language import ImageTextPretrainer, VisionLanguageBackbone

LOSSES = ("clip", "siglip")


def contrastive_only(config):
    """True when the config trains a plain dual encoder (CLIP/SigLIP)."""
    return set(config.objectives) == {"contrastive"}


def build_image_encoder(image, output="pooled"):
    """The image encoder of an `ImageConfig` (`config.image`).

    Args:
        image: a `vlpk.config.ImageConfig`; its `backbone` picks the builder
            (see `ImageConfig.kind`).
        output: `"pooled"` or `"tokens"`.

    Returns:
        An `ImageEncoder`.

    Example:
    >>> from vlpk.config import ImageConfig
    >>> encoder = build_image_encoder(ImageConfig(backbone="resnet50", size=32))
    >>> encoder.output_dim
    2048
    """
    builders = {
        "small_cnn": _small_cnn_encoder,
        "vit": _keras_hub_encoder,
        "applications": _applications_encoder,
        "keras_hub": _keras_hub_encoder,
        "keras_cv": _keras_cv_encoder,
    }
    return builders[image.kind()](image, output)


def _small_cnn_encoder(image, output):
    return ImageEncoder(
        small_cnn(image.size, widths=tuple(image.widths)),
        output=output,
        normalization=_normalization(image, "unit"),
        name="image_encoder",
    )


def _normalization(image, default):
    return default if image.normalization == "auto" else image.normalization


def _applications_encoder(image, output):
    """Any `keras.applications` model, headless, under the weights policy."""
    name = str(image.backbone).lower()
    if name in APPLICATION_NAMES:  # vlpk knows its normalization
        backbone, mode = applications_backbone(name, image.size, image.weights)
    else:
        backbone = load_application(
            applications_constructor(name),
            weights=image.weights,
            include_top=False,
            input_shape=(image.size, image.size, 3),
        )
        mode = None  # `ImageConfig.validate` asks for image.normalization
    return ImageEncoder(
        backbone,
        output=output,
        normalization=_normalization(image, mode),
        image_size=image.size,
        name=f"{name}_image_encoder",
    )


def _keras_hub_encoder(image, output):
    """A KerasHub image backbone: a ViT sized by the block (`vit`; or the
    preset folder in `weights`), or any image preset, with random weights
    unless `weights="preset"`."""
    if image.backbone != "vit":
        load = image.weights == "preset"
        backbone = load_preset_backbone(image.backbone, load_weights=load)
    elif image.weights:
        backbone = load_preset_backbone(image.weights)
    else:
        backbone = keras_hub.models.ViTBackbone(**image.vit_sizes())
    # ViT presets scale pixels to [-1, 1].
    default = "tf" if image.backbone == "vit" else "unit"
    return image_encoder_from_keras_hub(
        backbone,
        output=output,
        image_size=image.size,
        normalization=_normalization(image, default),
    )


def _keras_cv_encoder(image, output):
    """A KerasCV preset (`keras_cv:NAME`); needs the optional keras-cv."""
    try:
        keras_cv = import_keras_cv()
    except ImportError as error:
        raise InputError(f"image.backbone={image.backbone}: {error}") from None
    backbone = load_preset_backbone(
        image.backbone[len(KERAS_CV_PREFIX) :],
        loader=keras_cv.models.Backbone.from_preset,
        load_weights=image.weights == "preset",
    )
    rescales = getattr(backbone, "include_rescaling", False)
    return image_encoder_from_keras_cv(
        backbone,
        output=output,
        normalization=_normalization(image, "none" if rescales else "unit"),
    )


def build_text_encoder(text, vocabulary_size):
    """The text encoder of a `TextConfig` (`config.text`).

    A KerasHub BERT, RoBERTa or DistilBERT built from the block's sizes, or
    the block's KerasHub preset.

    Args:
        text: a `vlpk.config.TextConfig`.
        vocabulary_size: the tokenizer's vocabulary size.

    Example:
    >>> from vlpk.config import TextConfig
    >>> build_text_encoder(TextConfig(layers=1), vocabulary_size=100).output_dim
    64
    """
    default = "pooler" if text.preset or text.backbone == "bert" else "cls"
    pooling = default if text.pooling == "auto" else text.pooling
    if text.preset:
        return text_encoder_from_preset(text.preset, pooling=pooling)
    builder = {
        "bert": bert_encoder,
        "roberta": roberta_encoder,
        "distilbert": distilbert_encoder,
    }[text.backbone]
    return builder(
        vocabulary_size=vocabulary_size,
        max_sequence_length=text.sequence_length,
        pooling=pooling,
        **text.sizes(),
    )


def build_fusion_encoder(fusion):
    """The fusion encoder of a `FusionConfig` (`config.fusion`).

    Example:
    >>> from vlpk.config import FusionConfig
    >>> type(build_fusion_encoder(FusionConfig(kind="concat"))).__name__
    'ConcatFusion'
    """
    if fusion.kind == "concat":
        return ConcatFusion(hidden_dims=(fusion.intermediate_dim,))
    return CrossAttentionFusion(
        num_layers=fusion.layers,
        num_heads=fusion.heads,
        intermediate_dim=fusion.intermediate_dim,
        dropout=fusion.dropout,
        name="fusion",
    )


def build_backbone(config, vocabulary_size):
    """The backbone a `PretrainConfig` describes.

    A `DualEncoderBackbone` (pooled image features) for contrastive-only
    configs; else a `VisionLanguageBackbone` (image tokens) with the fusion
    encoder and caption decoder the objectives need. The parts are built in
    a fixed order (fusion, decoder, image, text), which fixes the random
    weights a seed gives.

    Args:
        config: a `vlpk.config.PretrainConfig`.
        vocabulary_size: the tokenizer's vocabulary size.

    Example:
    >>> from vlpk.config import PretrainConfig
    >>> type(build_backbone(PretrainConfig().smoke(), 100)).__name__
    'DualEncoderBackbone'
    """
    if contrastive_only(config):
        return build_dual_encoder(config, vocabulary_size)
    _check_loss(config)
    siglip = config.loss == "siglip"
    objectives = set(config.objectives)
    fusion = None
    if objectives & {"matching", "masked_lm"}:
        fusion = build_fusion_encoder(config.fusion)
    decoder = None
    if "captioning" in objectives:
        decoder = build_caption_decoder(
            config.decoder, vocabulary_size, config.text.sequence_length
        )
    return VisionLanguageBackbone(
        build_image_encoder(config.image, output="tokens"),
        build_text_encoder(config.text, vocabulary_size),
        fusion=fusion,
        caption_decoder=decoder,
        embedding_dim=config.embedding_dim,
        initial_temperature=0.1 if siglip else config.initial_temperature,
        initial_bias=-10.0 if siglip else None,
    )


def build_model(config, vocabulary_size):
    """The pretraining task of a config, without a preprocessor.

    A `ContrastivePretrainer` (CLIP/SigLIP) for contrastive-only configs,
    else an `ImageTextPretrainer` training the config's objectives. The job
    feeds it batches preprocessed in `tf.data`, so no preprocessor is
    attached; `vlpk pretrain` attaches one before saving the preset.

    Args:
        config: a `vlpk.config.PretrainConfig`.
        vocabulary_size: the tokenizer's vocabulary size.
    """
    backbone = build_backbone(config, vocabulary_size)
    if contrastive_only(config):
        return ContrastivePretrainer(backbone, compile=False, name="pretrainer")
    objectives = tuple(o for o in _ORDER if o in config.objectives)
    return ImageTextPretrainer(
        backbone,
        objectives=objectives,
        seed=config.seed,
        compile=False,
        name="pretrainer",
    )


_ORDER = ("contrastive", "matching", "masked_lm", "captioning")


def build_caption_decoder(decoder, vocabulary_size, sequence_length):
    """The `CaptionDecoder` of a `DecoderConfig` (`config.decoder`).

    Args:
        decoder: a `vlpk.config.DecoderConfig`.
        vocabulary_size: the tokenizer's vocabulary size.
        sequence_length: the caption length (`config.text.sequence_length`).
    """
    return CaptionDecoder(
        vocabulary_size=vocabulary_size,
        sequence_length=sequence_length,
        name="caption_decoder",
        **decoder.sizes(),
    )


def build_dual_encoder(config, vocabulary_size):
    """The quickstart's dual encoder: an image encoder and a small KerasHub BERT.

    Args:
        config: a `vlpk.config.PretrainConfig`.
        vocabulary_size: the size of the learned vocabulary.
    """
    _check_loss(config)
    siglip = config.loss == "siglip"
    return DualEncoderBackbone(
        build_image_encoder(config.image, output="pooled"),
        build_text_encoder(config.text, vocabulary_size),
        embedding_dim=config.embedding_dim,
        # SigLIP starts from temperature 0.1 and bias -10 (Zhai et al.).
        initial_temperature=0.1 if siglip else config.initial_temperature,
        initial_bias=-10.0 if siglip else None,
        name="dual_encoder",
    )


def build_loss(config):
    """`ContrastiveLoss` for "clip", `SigmoidContrastiveLoss` for "siglip"."""
    _check_loss(config)
    return SigmoidContrastiveLoss() if config.loss == "siglip" else ContrastiveLoss()


def build_losses(config):
    """One loss per objective, and the config's weights for them.

    Returns:
        `(losses, loss_weights, metrics)` dicts keyed by output name, ready
        for `model.compile`.
    """
    losses = {"contrastive": build_loss(config)}
    metrics = {}
    if "matching" in config.objectives:
        losses["matching"] = keras.losses.BinaryCrossentropy(from_logits=True)
        metrics["matching"] = [
            keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")
        ]
    if "masked_lm" in config.objectives:
        # 0 is [PAD]: the unused mask slots.
        losses["masked_lm"] = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=0
        )
        metrics["masked_lm"] = [MaskedTokenAccuracy()]
    if "captioning" in config.objectives:
        losses["captioning"] = CaptioningLoss()
        metrics["captioning"] = [MaskedTokenAccuracy()]
    weights = {name: float(config.objectives[name]) for name in losses}
    return losses, weights, metrics


def _check_loss(config):
    if config.loss not in LOSSES:
        raise InputError(f"Unknown loss {config.loss!r}; choose one of {LOSSES}.")


def build_optimizer(optimization, total_steps):
    """AdamW with linear warm-up then cosine decay over `total_steps`.

    Args:
        optimization: an `OptimizationConfig` (`config.optimization`), or any
            config with `learning_rate`, `warmup_fraction` and `weight_decay`
            (a `FinetuneConfig`).
        total_steps: the number of training steps.
    """
    warmup = max(1, int(optimization.warmup_fraction * total_steps))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(1, total_steps - warmup),
        warmup_target=optimization.learning_rate,
        warmup_steps=warmup,
        alpha=0.05,
    )
    return keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=optimization.weight_decay, clipnorm=1.0
    )


def compile_for_pretraining(model, config, total_steps):
    """Compiles `model` with the config's losses, loss weights, metrics and
    optimizer, as `vlpk pretrain` does. Returns `loss_weights`.

    Example:
    >>> from vlpk.config import PretrainConfig
    >>> config = PretrainConfig().smoke()
    >>> model = build_model(config, vocabulary_size=100)
    >>> compile_for_pretraining(model, config, total_steps=1000)
    {'contrastive': 1.0}
    """
    losses, loss_weights, metrics = build_losses(config)
    model.compile(
        optimizer=build_optimizer(config.optimization, total_steps),
        loss=losses,
        loss_weights=loss_weights,
        metrics=metrics or None,
        jit_compile=config.distribution.jit_compile,
    )
    return loss_weights


def captioner(source, config, vocabulary_size):
    """An `ImageCaptioner` on `source`'s backbone (shared, nothing copied).

    The backbone's own caption decoder (a CoCa run's) is fine-tuned; a
    backbone without one (an ALBEF run's) gets a new decoder, sized by the
    config's `decoder` block, as the task's head.

    Args:
        source: a pretraining task (or its backbone) with a token image
            encoder.
        config: the run's `PretrainConfig`.
        vocabulary_size: the tokenizer's vocabulary size.
    """
    backbone = getattr(source, "backbone", source)
    if getattr(backbone.image_encoder, "output_mode", "tokens") != "tokens":
        raise ValueError(
            "Captioning attends to image tokens, and this run's image encoder "
            "is pooled (a contrastive-only DualEncoderBackbone). Fine-tune "
            "captioning from an ImageTextPretrainer run (e.g. shapes_albef, "
            "shapes_coca)."
        )
    decoder = None
    if getattr(backbone, "caption_decoder", None) is None:
        decoder = build_caption_decoder(
            config.decoder, vocabulary_size, config.text.sequence_length
        )
    return ImageCaptioner(
        backbone, caption_decoder=decoder, compile=False, name="captioner"
    )
