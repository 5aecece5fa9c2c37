"""Recipes: turn a config into the public objects a user would build by hand.

Nothing here is hidden machinery: each function is the few lines of
composition a notebook would write (encoders → model → losses → optimizer).
"""

import keras
import keras_hub

from vlpk.encoders import (
    ImageEncoder,
    bert_encoder,
    image_encoder_from_applications,
    image_encoder_from_keras_hub,
    small_cnn,
    text_encoder_from_preset,
)
from vlpk.errors import InputError
from vlpk.layers import CaptionDecoder, ConcatFusion, CrossAttentionFusion
from vlpk.losses import CaptioningLoss, ContrastiveLoss, SigmoidContrastiveLoss
from vlpk.metrics.token_accuracy import MaskedTokenAccuracy
from vlpk.models.captioner import Captioner
from vlpk.models.contrastive import DualEncoderBackbone
from vlpk.models.pretrainer import VisionLanguagePretrainer

LOSSES = ("clip", "siglip")


def contrastive_only(config):
    """True when the config trains a plain dual encoder (CLIP/SigLIP)."""
    return set(config.objectives) == {"contrastive"}


def build_image_encoder(config, output="pooled"):
    """The config's image encoder: small CNN, VGG16 or a KerasHub ViT."""
    if config.image_backbone == "vgg16":
        return image_encoder_from_applications(
            "vgg16", config.image_size, weights=config.image_weights, output=output
        )
    if config.image_backbone == "vit":
        if config.image_weights:
            backbone = config.image_weights  # a local KerasHub preset folder
        else:
            backbone = keras_hub.models.ViTBackbone(
                image_shape=(config.image_size, config.image_size, 3),
                patch_size=config.vit_patch_size,
                num_layers=config.vit_layers,
                num_heads=config.vit_heads,
                hidden_dim=config.vit_hidden_dim,
                mlp_dim=config.vit_mlp_dim,
            )
        return image_encoder_from_keras_hub(
            backbone, output=output, image_size=config.image_size, normalization="tf"
        )
    return ImageEncoder(
        small_cnn(config.image_size, widths=tuple(config.image_widths)),
        output=output,
        normalization="unit",
        name="image_encoder",
    )


def build_text_encoder(config, vocabulary_size):
    """A KerasHub BERT from the config's sizes, or the config's local preset."""
    if config.text_preset:
        return text_encoder_from_preset(config.text_preset, pooling="pooler")
    return bert_encoder(
        vocabulary_size=vocabulary_size,
        num_layers=config.text_layers,
        num_heads=config.text_heads,
        hidden_dim=config.text_hidden_dim,
        intermediate_dim=config.text_intermediate_dim,
        max_sequence_length=config.sequence_length,
        dropout=config.text_dropout,
        pooling="pooler",
    )


def build_model(config, vocabulary_size):
    """A `DualEncoderBackbone` for contrastive-only configs, else a
    `VisionLanguagePretrainer` with the heads the objectives need."""
    if contrastive_only(config):
        return build_dual_encoder(config, vocabulary_size)
    _check_loss(config)
    siglip = config.loss == "siglip"
    objectives = tuple(o for o in _ORDER if o in config.objectives)
    fusion = None
    if "matching" in objectives or "masked_lm" in objectives:
        if config.fusion == "concat":
            fusion = ConcatFusion(hidden_dims=(config.fusion_intermediate_dim,))
        else:
            fusion = CrossAttentionFusion(
                num_layers=config.fusion_layers,
                num_heads=config.fusion_heads,
                intermediate_dim=config.fusion_intermediate_dim,
                dropout=config.text_dropout,
                name="fusion",
            )
    decoder = None
    if "captioning" in objectives:
        decoder = build_caption_decoder(config, vocabulary_size)
    return VisionLanguagePretrainer(
        build_image_encoder(config, output="tokens"),
        build_text_encoder(config, vocabulary_size),
        fusion=fusion,
        caption_decoder=decoder,
        objectives=objectives,
        embedding_dim=config.embedding_dim,
        initial_temperature=0.1 if siglip else config.initial_temperature,
        initial_bias=-10.0 if siglip else None,
        seed=config.seed,
        name="pretrainer",
    )


_ORDER = ("contrastive", "matching", "masked_lm", "captioning")


def build_caption_decoder(config, vocabulary_size):
    """A `CaptionDecoder` sized by the config's `decoder_*` fields."""
    return CaptionDecoder(
        vocabulary_size=vocabulary_size,
        sequence_length=config.sequence_length,
        num_layers=config.decoder_layers,
        num_heads=config.decoder_heads,
        hidden_dim=config.decoder_hidden_dim,
        intermediate_dim=config.decoder_intermediate_dim,
        dropout=config.text_dropout,
        name="caption_decoder",
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
        build_image_encoder(config, output="pooled"),
        build_text_encoder(config, vocabulary_size),
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


def build_optimizer(config, total_steps):
    """AdamW with linear warm-up then cosine decay over `total_steps`."""
    warmup = max(1, int(config.warmup_fraction * total_steps))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(1, total_steps - warmup),
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
        alpha=0.05,
    )
    return keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=config.weight_decay, clipnorm=1.0
    )


def compile_for_pretraining(model, config, total_steps):
    """Compiles `model` with the config's losses, loss weights, metrics and
    optimizer, as `vlpk pretrain` does. Returns `loss_weights`.

    Example:
    >>> model = build_model(config, vocabulary_size)
    >>> compile_for_pretraining(model, config, total_steps=1000)
    """
    losses, loss_weights, metrics = build_losses(config)
    model.compile(
        optimizer=build_optimizer(config, total_steps),
        loss=losses,
        loss_weights=loss_weights,
        metrics=metrics or None,
        jit_compile=config.jit_compile,
    )
    return loss_weights


def captioner(source, config, vocabulary_size):
    """A `Captioner` over `source`'s image encoder (and decoder, if any).

    Args:
        source: a `VisionLanguagePretrainer` (or anything with a token
            `image_encoder` and, optionally, a `caption_decoder`).
        config: the run's `PretrainConfig` (decoder sizes).
        vocabulary_size: the tokenizer's vocabulary size.
    """
    decoder = getattr(source, "caption_decoder", None)
    if decoder is None:
        decoder = build_caption_decoder(config, vocabulary_size)
    if getattr(source.image_encoder, "output_mode", "tokens") != "tokens":
        raise ValueError(
            "Captioning attends to image tokens, and this run's image encoder "
            "is pooled (a contrastive-only DualEncoderBackbone). Fine-tune captioning "
            "from a VisionLanguagePretrainer run (e.g. shapes_albef, shapes_coca)."
        )
    return Captioner(source.image_encoder, decoder, name="captioner")
