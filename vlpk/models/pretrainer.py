"""The vision-language pretrainer: contrastive plus fusion and captioning heads.

One functional model covers the ALBEF/BLIP family (contrastive + image-text
matching + image-conditioned masked LM over a fusion encoder) and the CoCa
family (contrastive + captioning LM over a causal decoder with
cross-attention). Which heads exist follows from the parts passed in; which
of them train, and with what weight, is `compile(loss=..., loss_weights=...)`.
"""

import keras
import keras_hub

from vlpk.layers.concat_fusion import ConcatFusion
from vlpk.layers.hard_negatives import HardNegativeSampler, MatchingHead
from vlpk.layers.logit_scale import LogitScale
from vlpk.layers.projection_head import ProjectionHead
from vlpk.layers.token_pooling import TokenPooling
from vlpk.models.embedders import ContrastiveEmbedders
from vlpk.models.inputs import image_input, image_tokens_model, text_inputs
from vlpk.serialization import deserialize_nested

OBJECTIVES = ("contrastive", "matching", "masked_lm", "captioning")


@keras.saving.register_keras_serializable(package="vlpk")
class VisionLanguagePretrainer(ContrastiveEmbedders, keras.Model):
    """Image and text encoders, a fusion encoder and a captioner in one model.

    Inputs (a dict, as made by `vlpk.data.pretraining_dataset`):

    - `images` `[B, H, W, 3]` (0–255), `token_ids` and `padding_mask`
      `[B, T]` (int32): the caption;
    - with `matching`: `image_id` `[B]`, so that two captions of one image
      are never drawn as each other's negatives;
    - with `masked_lm`: `masked_token_ids` `[B, T]` and `mask_positions`
      `[B, P]` from KerasHub's `MaskedLMMaskGenerator`.

    Outputs (a dict):

    - `contrastive`: the packed `LogitScale` output (both L2-normalized
      embeddings and the logit scale), for `vlpk.losses.ContrastiveLoss` or
      `SigmoidContrastiveLoss`; `image_embedder()` and `text_embedder()`
      give the embeddings alone;
    - `matching` `[B, 3]`: matching logits of (image, its text), (image, a
      hard-negative text) and (a hard-negative image, text); targets
      `[1, 0, 0]` with `BinaryCrossentropy(from_logits=True)`;
    - `masked_lm` `[B, P, V]`: logits at the masked positions, with the text
      seen through the fusion encoder (so it can look at the image); targets
      are the `mask_ids`, 0 for unused slots;
    - `captioning` `[B, T, V]`: next-token logits from the causal decoder,
      trained with teacher forcing; targets are the token ids shifted left.

    Args:
        image_encoder: an `ImageEncoder(..., output="tokens")`: `[B, N, C]`.
        text_encoder: a `TextEncoder` (sequence and pooled outputs).
        fusion: a `CrossAttentionFusion` (token-level, enables `matching`
            and `masked_lm`), a `ConcatFusion` (pooled vectors, enables
            `matching` only), or None.
        caption_decoder: a `vlpk.layers.CaptionDecoder`, or None.
        objectives: which heads to build, from `OBJECTIVES`.
        embedding_dim: size of the shared contrastive space.
        initial_temperature: the starting contrastive temperature.
        initial_bias: the starting bias of the sigmoid loss (None for CLIP).
        seed: the seed of the hard-negative sampler.

    Example:
    >>> model = VisionLanguagePretrainer(image_encoder, text_encoder,
    ...     fusion=CrossAttentionFusion(2, 2, 128),
    ...     objectives=("contrastive", "matching", "masked_lm"))
    >>> model.compile(optimizer="adamw", loss={
    ...     "contrastive": ContrastiveLoss(),
    ...     "matching": keras.losses.BinaryCrossentropy(from_logits=True),
    ...     "masked_lm": keras.losses.SparseCategoricalCrossentropy(
    ...         from_logits=True, ignore_class=0)})

    References:
        - [Li et al., 2021](https://arxiv.org/abs/2107.07651) (ALBEF)
        - [Yu et al., 2022](https://arxiv.org/abs/2205.01917) (CoCa)
    """

    def __init__(
        self,
        image_encoder,
        text_encoder,
        fusion=None,
        caption_decoder=None,
        objectives=("contrastive",),
        embedding_dim=128,
        initial_temperature=0.07,
        initial_bias=None,
        seed=None,
        **kwargs,
    ):
        objectives = tuple(objectives)
        _check_parts(objectives, image_encoder, fusion, caption_decoder)

        # === Layers ===
        image_pooling = TokenPooling("mean", name="image_pooling")
        image_projection = ProjectionHead(embedding_dim, name="image_projection")
        text_projection = ProjectionHead(embedding_dim, name="text_projection")
        logit_scale = LogitScale(
            initial_temperature, initial_bias=initial_bias, name="logit_scale"
        )

        # === Functional model ===
        images = image_input(image_encoder)
        text = text_inputs(text_encoder)
        inputs = {"images": images, **text}
        image_tokens = image_encoder(images)
        image_features = image_pooling(image_tokens)
        text_outputs = text_encoder(text)
        image_embedding = image_projection(image_features)
        text_embedding = text_projection(text_outputs["pooled_output"])
        contrastive = logit_scale({"image": image_embedding, "text": text_embedding})
        # Only trained heads are outputs: Keras's compiled metrics look up a
        # target for every output. The embeddings are `image_embedder()` and
        # `text_embedder()`.
        outputs = {"contrastive": _named(contrastive, "contrastive")}
        vector_fusion = isinstance(fusion, ConcatFusion)
        matching_head = None
        if "matching" in objectives:
            inputs["image_id"] = keras.Input(shape=(), dtype="int32", name="image_id")
            sampler = HardNegativeSampler(seed=seed, name="hard_negatives")
            triplets = sampler(
                {
                    "contrastive": contrastive,
                    "image_id": inputs["image_id"],
                    "image_tokens": image_features if vector_fusion else image_tokens,
                    "text_tokens": text_outputs[
                        "pooled_output" if vector_fusion else "sequence_output"
                    ],
                    "padding_mask": text["padding_mask"],
                }
            )
            fused = _fuse(
                fusion,
                triplets["image_tokens"],
                triplets["text_tokens"],
                triplets["padding_mask"],
                vector_fusion,
            )
            matching_head = MatchingHead(name="matching_head")
            outputs["matching"] = _named(matching_head(fused), "matching")
        mlm_head = None
        if "masked_lm" in objectives:
            inputs["masked_token_ids"] = keras.Input(
                shape=text["token_ids"].shape[1:],
                dtype="int32",
                name="masked_token_ids",
            )
            inputs["mask_positions"] = keras.Input(
                shape=(None,), dtype="int32", name="mask_positions"
            )
            masked = text_encoder(
                {
                    "token_ids": inputs["masked_token_ids"],
                    "padding_mask": text["padding_mask"],
                }
            )["sequence_output"]
            fused = _fuse(fusion, image_tokens, masked, text["padding_mask"], False)
            mlm_head = keras_hub.layers.MaskedLMHead(
                vocabulary_size=_vocabulary_size(text_encoder),
                activation=None,
                dtype="float32",
                name="masked_lm_head",
            )
            outputs["masked_lm"] = _named(
                mlm_head(fused, mask_positions=inputs["mask_positions"]), "masked_lm"
            )
        if "captioning" in objectives:
            logits = caption_decoder(
                {
                    "token_ids": text["token_ids"],
                    "padding_mask": text["padding_mask"],
                    "image_tokens": image_tokens,
                }
            )
            outputs["captioning"] = _named(logits, "captioning")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.fusion = fusion
        self.caption_decoder = caption_decoder
        self.objectives = objectives
        self.embedding_dim = embedding_dim
        self.initial_temperature = initial_temperature
        self.initial_bias = initial_bias
        self.seed = seed
        self.logit_scale_layer = logit_scale
        self.matching_head = matching_head
        self.mlm_head = mlm_head

    def image_tokenizer(self):
        """A model from `images` to the image tokens the heads attend to."""
        return image_tokens_model(self.image_encoder)

    def matcher(self):
        """A model scoring given pairs: `images`, `token_ids`, `padding_mask`
        → `matching` logits `[B]` (positive means "this text fits")."""
        if self.matching_head is None:
            raise ValueError("This model has no matching head.")
        images = image_input(self.image_encoder)
        text = text_inputs(self.text_encoder)
        image_tokens = self.image_encoder(images)
        text_outputs = self.text_encoder(text)
        vector = isinstance(self.fusion, ConcatFusion)
        if vector:
            pooling = self.get_layer("image_pooling")
            fused = _fuse(
                self.fusion,
                pooling(image_tokens),
                text_outputs["pooled_output"],
                None,
                True,
            )
        else:
            fused = _fuse(
                self.fusion,
                image_tokens,
                text_outputs["sequence_output"],
                text["padding_mask"],
                False,
            )
        pooled = fused[:, 0, :] if len(fused.shape) == 3 else fused
        logit = self.matching_head.dense(pooled)[:, 0]
        return keras.Model({"images": images, **text}, logit, name="matcher")

    def matching_features(self):
        """A model from `images` or text to what the matching head fuses.

        Returns `(image_model, text_model)`: `images` → image tokens
        `[B, N, C]` (pooled `[B, C]` with `ConcatFusion`), and
        `token_ids`/`padding_mask` → text tokens `[B, T, D]` (pooled with
        `ConcatFusion`). Re-ranking computes them once per image and per
        text, then scores many pairs with `matching_scorer()`.
        """
        if self.matching_head is None:
            raise ValueError("This model has no matching head.")
        vector = isinstance(self.fusion, ConcatFusion)
        images = image_input(self.image_encoder)
        image_tokens = self.image_encoder(images)
        if vector:
            image_tokens = self.get_layer("image_pooling")(image_tokens)
        text = text_inputs(self.text_encoder)
        outputs = self.text_encoder(text)
        text_tokens = outputs["pooled_output" if vector else "sequence_output"]
        return (
            keras.Model(images, image_tokens, name="matching_image_features"),
            keras.Model(text, text_tokens, name="matching_text_features"),
        )

    def matching_scorer(self):
        """A model scoring pairs of `matching_features()` outputs.

        Inputs: `image_tokens`, `text_tokens` and, except with
        `ConcatFusion`, `padding_mask` (`[B, T]`, int32). Output: the
        matching logit `[B]` (positive means "this text fits this image").
        """
        image_model, text_model = self.matching_features()
        image_tokens = keras.Input(image_model.output.shape[1:], name="image_tokens")
        text_tokens = keras.Input(text_model.output.shape[1:], name="text_tokens")
        padding_mask = keras.Input((None,), dtype="int32", name="padding_mask")
        vector = isinstance(self.fusion, ConcatFusion)
        fused = _fuse(
            self.fusion,
            image_tokens,
            text_tokens,
            None if vector else padding_mask,
            vector,
        )
        pooled = fused[:, 0, :] if len(fused.shape) == 3 else fused
        logit = self.matching_head.dense(pooled)[:, 0]
        inputs = {"image_tokens": image_tokens, "text_tokens": text_tokens}
        if not vector:
            inputs["padding_mask"] = padding_mask
        return keras.Model(inputs, logit, name="matching_scorer")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_encoder": keras.layers.serialize(self.image_encoder),
                "text_encoder": keras.layers.serialize(self.text_encoder),
                "fusion": _serialize(self.fusion),
                "caption_decoder": _serialize(self.caption_decoder),
                "objectives": list(self.objectives),
                "embedding_dim": self.embedding_dim,
                "initial_temperature": self.initial_temperature,
                "initial_bias": self.initial_bias,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        keys = ("image_encoder", "text_encoder", "fusion", "caption_decoder")
        return cls(**deserialize_nested(config, keys))


def _named(x, name):
    # Identity layers give the outputs stable, user-facing names.
    return keras.layers.Identity(name=name)(x)


def _serialize(layer):
    return None if layer is None else keras.layers.serialize(layer)


def _fuse(fusion, image, text, padding_mask, vector):
    if vector:
        return fusion({"image": image, "text": text})
    inputs = {"text": text, "image": image}
    if padding_mask is not None:
        inputs["padding_mask"] = padding_mask
    return fusion(inputs)


def _vocabulary_size(text_encoder):
    backbone = getattr(text_encoder, "backbone", None)
    size = getattr(backbone, "vocabulary_size", None)
    if size is None:
        raise ValueError(
            "masked_lm needs the text encoder's vocabulary size: wrap a KerasHub "
            "backbone that has `vocabulary_size` in vlpk.encoders.TextEncoder."
        )
    return size


def _check_parts(objectives, image_encoder, fusion, caption_decoder):
    unknown = set(objectives) - set(OBJECTIVES)
    if unknown or "contrastive" not in objectives:
        raise ValueError(
            f"objectives must include 'contrastive' and come from {OBJECTIVES}; "
            f"got {objectives}."
        )
    if getattr(image_encoder, "output_mode", "tokens") != "tokens":
        raise ValueError(
            "VisionLanguagePretrainer needs image tokens: build the image encoder "
            "with ImageEncoder(..., output='tokens')."
        )
    if ("matching" in objectives or "masked_lm" in objectives) and fusion is None:
        raise ValueError("'matching' and 'masked_lm' need a fusion layer.")
    if "masked_lm" in objectives and isinstance(fusion, ConcatFusion):
        raise ValueError(
            "'masked_lm' predicts tokens, so it needs token-level fusion "
            "(CrossAttentionFusion); ConcatFusion fuses pooled vectors."
        )
    if "captioning" in objectives and caption_decoder is None:
        raise ValueError("'captioning' needs a caption_decoder.")
