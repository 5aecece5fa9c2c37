"""The ALBEF / CoCa backbone: two towers, a fusion encoder and a captioner."""

import keras
import keras_hub
from keras import ops

from vlpk.layers.fusion import apply_fusion, fuses_tokens
from vlpk.layers.hard_negatives import MatchingHead
from vlpk.layers.logit_scale import LogitScale
from vlpk.layers.projection_head import ProjectionHead
from vlpk.layers.token_pooling import TokenPooling
from vlpk.models.contrastive.outputs import contrastive_outputs
from vlpk.models.embedders import ContrastiveEmbedders
from vlpk.models.inputs import image_input, text_inputs
from vlpk.serialization import deserialize_backbone_config

# The constructor arguments that are layers, serialized in the config.
_SUBLAYERS = ("image_encoder", "text_encoder", "fusion", "caption_decoder")


@keras.saving.register_keras_serializable(package="vlpk")
class VisionLanguageBackbone(ContrastiveEmbedders, keras_hub.models.Backbone):
    """Image and text towers, a fusion encoder and a caption decoder.

    The bare architecture of the ALBEF / BLIP family (a fusion encoder over
    image and text tokens, with an image-text matching head) and of CoCa (a
    caption decoder that attends to the image tokens), with no loss:
    `vlpk.models.ImageTextPretrainer` puts the objectives on it. Which parts
    exist follows from the arguments; a backbone with neither `fusion` nor
    `caption_decoder` is a CLIP-style dual encoder over image tokens.

    The matching head belongs to the backbone, not to the pretraining task,
    because retrieval re-ranks with it: a backbone loaded alone from a preset
    can still score pairs (`match`). The hard-negative sampler and the masked
    LM head only serve pretraining and live in the task.

    Inputs are a dict `images` `[B, H, W, 3]` (float, 0–255), `token_ids`
    and `padding_mask` `[B, T]` (int32). Outputs are a dict:

    - `image_embedding`, `text_embedding`: L2-normalized `[B, embedding_dim]`;
    - `contrastive`: both embeddings and the learned logit scale (and bias,
      with `initial_bias`) packed for `vlpk.losses.ContrastiveLoss` and
      `SigmoidContrastiveLoss`;
    - `image_tokens` `[B, N, C]` and `text_tokens` `[B, T, H]`: the towers'
      token sequences, which the fusion encoder and the decoder attend to;
    - with `fusion`: `matching_logits` `[B]`, how well each text fits its
      image (positive: it fits);
    - with `caption_decoder`: `caption_logits` `[B, T, vocabulary_size]`,
      the teacher-forced next-token logits of each caption.

    Inference is methods, which work eagerly and on symbolic inputs:
    `get_image_embeddings`, `get_text_embeddings`, `get_image_tokens`,
    `get_text_tokens`, `get_image_features`, `get_text_features`, `fuse`,
    `match` and `caption_logits`.

    Args:
        image_encoder: an `ImageEncoder(..., output="tokens")`: `[B, N, C]`.
        text_encoder: a `TextEncoder` (sequence and pooled outputs).
        fusion: a `CrossAttentionFusion` (text tokens attend to image tokens;
            enables matching and masked LM), a `ConcatFusion` (pooled vectors;
            matching only), or None.
        caption_decoder: a `vlpk.layers.CaptionDecoder`, or None.
        embedding_dim: size of the shared contrastive space.
        initial_temperature: the starting contrastive temperature.
        initial_bias: the starting bias of `SigmoidContrastiveLoss` (SigLIP
            uses -10); None (CLIP) packs no bias.
        dtype: the dtype policy of the backbone's own layers; the encoders,
            the fusion layer and the decoder keep theirs.

    Example:
    >>> import numpy as np
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.layers import CrossAttentionFusion
    >>> backbone = VisionLanguageBackbone(
    ...     ImageEncoder(small_cnn(32, widths=(8,)), output="tokens"),
    ...     bert_encoder(30, num_layers=1, num_heads=2, hidden_dim=8,
    ...                  intermediate_dim=16, max_sequence_length=6),
    ...     fusion=CrossAttentionFusion(1, 2, 16), embedding_dim=4)
    >>> images = np.zeros((2, 32, 32, 3), "float32")
    >>> ids, mask = np.ones((2, 6), "int32"), np.ones((2, 6), "int32")
    >>> backbone.get_image_embeddings(images).shape
    TensorShape([2, 4])
    >>> image_tokens = backbone.get_image_tokens(images)
    >>> backbone.match(image_tokens, backbone.get_text_tokens(ids, mask),
    ...                mask).shape
    TensorShape([2])

    References:
        - [Li et al., 2021](https://arxiv.org/abs/2107.07651): ALBEF, the
          fusion encoder and its matching head
        - [Yu et al., 2022](https://arxiv.org/abs/2205.01917): CoCa, the
          caption decoder over the image tokens
    """

    def __init__(
        self,
        image_encoder,
        text_encoder,
        fusion=None,
        caption_decoder=None,
        embedding_dim=128,
        initial_temperature=0.07,
        initial_bias=None,
        dtype=None,
        **kwargs,
    ):
        _check_image_encoder(image_encoder)

        # === Layers ===
        # A fixed construction order: initializers draw their seeds when they
        # are made, so one seed gives the same initial weights (and the same
        # published figures) run after run.
        self.image_pooling = TokenPooling("mean", dtype=dtype, name="image_pooling")
        self.image_projection = ProjectionHead(
            embedding_dim, dtype=dtype, name="image_projection"
        )
        self.text_projection = ProjectionHead(
            embedding_dim, dtype=dtype, name="text_projection"
        )
        self.logit_scale_layer = LogitScale(
            initial_temperature,
            initial_bias=initial_bias,
            dtype=dtype,
            name="logit_scale",
        )
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.fusion = fusion
        self.caption_decoder = caption_decoder
        self.matching_head = None

        # === Functional model ===
        images = image_input(image_encoder)
        text = text_inputs(text_encoder)
        features = self.encode(images, **text)
        outputs = contrastive_outputs(
            features["image_embedding"],
            features["text_embedding"],
            self.logit_scale_layer,
        )
        for name in ("image_tokens", "text_tokens"):
            outputs[name] = _named(features[name], name, dtype)
        if fusion is not None:
            fused = self.fuse(*self.matching_inputs(features), text["padding_mask"])
            # Made only now, once the fusion blocks are built (they draw
            # their seeds then), keeping the order the figures were made with.
            self.matching_head = MatchingHead(dtype=dtype, name="matching_head")
            # Built as a whole: `match` calls only its dense layer, and the
            # task calls the head itself on triplets.
            self.matching_head.build(fused.shape)
            outputs["matching_logits"] = _named(
                self._matching_logit(fused), "matching_logits", "float32"
            )
        if caption_decoder is not None:
            logits = self.caption_logits(features["image_tokens"], **text)
            outputs["caption_logits"] = _named(logits, "caption_logits", "float32")
        super().__init__(
            inputs={"images": images, **text}, outputs=outputs, dtype=dtype, **kwargs
        )

        # === Config ===
        self.embedding_dim = embedding_dim
        self.initial_temperature = initial_temperature
        self.initial_bias = initial_bias

    @property
    def has_logit_bias(self):
        """Whether a bias is packed (SigLIP): the task then uses a sigmoid loss."""
        return self.initial_bias is not None

    def encode(self, images, token_ids, padding_mask):
        """Every tower output, each tower run once.

        The pretraining task builds its heads on these, so the towers do not
        run twice for two heads.

        Returns:
            A dict: `image_tokens` `[B, N, C]`, `image_features` (their mean,
            `[B, C]`), `image_embedding`, `text_tokens` `[B, T, H]`,
            `text_features` (the pooled output, `[B, H]`) and
            `text_embedding`.
        """
        image_tokens = self.get_image_tokens(images)
        image_features = self.image_pooling(image_tokens)
        text = self.text_encoder({"token_ids": token_ids, "padding_mask": padding_mask})
        return {
            "image_tokens": image_tokens,
            "image_features": image_features,
            "image_embedding": self.image_projection(image_features),
            "text_tokens": text["sequence_output"],
            "text_features": text["pooled_output"],
            "text_embedding": self.text_projection(text["pooled_output"]),
        }

    def get_image_tokens(self, images):
        """The image tokens `[B, N, C]` the fusion layer and decoder attend to."""
        return self.image_encoder(images)

    def get_image_features(self, images):
        """The mean of the image tokens `[B, C]`, before the projection."""
        return self.image_pooling(self.get_image_tokens(images))

    def get_image_embeddings(self, images):
        """L2-normalized image embeddings `[B, embedding_dim]`."""
        return self.image_projection(self.get_image_features(images))

    def get_text_tokens(self, token_ids, padding_mask):
        """The text encoder's token sequence `[B, T, H]`."""
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        return self.text_encoder(inputs)["sequence_output"]

    def get_text_features(self, token_ids, padding_mask):
        """The text encoder's pooled output `[B, H]`, before the projection."""
        inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        return self.text_encoder(inputs)["pooled_output"]

    def get_text_embeddings(self, token_ids, padding_mask):
        """L2-normalized text embeddings `[B, embedding_dim]`."""
        return self.text_projection(self.get_text_features(token_ids, padding_mask))

    @property
    def fuses_tokens(self):
        """Whether `fuse` reads token sequences (`CrossAttentionFusion`).

        False for `ConcatFusion`, which reads the pooled features instead:
        `get_image_features` and `get_text_features`.
        """
        return fuses_tokens(self.fusion)

    def matching_inputs(self, features):
        """`(image, text)` from `encode`'s dict: what `fuse` reads.

        Tokens for a token-level fusion layer, pooled features for
        `ConcatFusion`.
        """
        kind = "tokens" if self.fuses_tokens else "features"
        return features[f"image_{kind}"], features[f"text_{kind}"]

    def fuse(self, image_tokens, text_tokens, padding_mask=None):
        """The fusion layer's output for (image, text) pairs.

        Args:
            image_tokens: `get_image_tokens` `[B, N, C]`, or, for
                `ConcatFusion`, `get_image_features` `[B, C]`.
            text_tokens: `get_text_tokens` `[B, T, H]`, or, for
                `ConcatFusion`, `get_text_features` `[B, H]`.
            padding_mask: `[B, T]`, 1 for real text tokens; `ConcatFusion`
                ignores it.

        Returns:
            The fused text tokens `[B, T, H]`, or a fused vector for
            `ConcatFusion`.
        """
        if self.fusion is None:
            raise ValueError(
                "This VisionLanguageBackbone has no fusion layer: build it with "
                "fusion=CrossAttentionFusion(...) or ConcatFusion(...)."
            )
        return apply_fusion(self.fusion, image_tokens, text_tokens, padding_mask)

    def match(self, image_tokens, text_tokens, padding_mask=None):
        """Matching logits `[B]` of (image, text) pairs; positive: it fits.

        Takes what `fuse` takes. Re-ranking computes each image's and each
        text's inputs once, then scores many pairs.
        """
        return self._matching_logit(self.fuse(image_tokens, text_tokens, padding_mask))

    def _matching_logit(self, fused):
        # The head's own `call` reshapes triplets to [B, 3]; plain pairs
        # need the dense layer on the [CLS] token alone.
        pooled = fused[:, 0, :] if len(fused.shape) == 3 else fused
        return ops.squeeze(self.matching_head.dense(pooled), axis=-1)

    def caption_logits(self, image_tokens, token_ids, padding_mask):
        """Next-token logits `[B, T, vocabulary_size]` (teacher forcing).

        Args:
            image_tokens: `get_image_tokens` `[B, N, C]`.
            token_ids: the captions so far `[B, T]`.
            padding_mask: `[B, T]`, 1 for real tokens.
        """
        if self.caption_decoder is None:
            raise ValueError(
                "This VisionLanguageBackbone has no caption decoder: build it "
                "with caption_decoder=CaptionDecoder(...)."
            )
        return self.caption_decoder(
            {
                "token_ids": token_ids,
                "padding_mask": padding_mask,
                "image_tokens": image_tokens,
            }
        )

    def get_config(self):
        config = super().get_config()
        config.update({name: _serialize(getattr(self, name)) for name in _SUBLAYERS})
        config.update(
            {
                "embedding_dim": self.embedding_dim,
                "initial_temperature": self.initial_temperature,
                "initial_bias": self.initial_bias,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_backbone_config(config, _SUBLAYERS))


def _named(x, name, dtype=None):
    # Identity layers give the outputs stable, user-facing names. Logits stay
    # float32 (their heads compute in float32): an Identity under a mixed
    # policy would cast them back to bfloat16 before the loss.
    return keras.layers.Identity(dtype=dtype, name=name)(x)


def _serialize(layer):
    return None if layer is None else keras.layers.serialize(layer)


def _check_image_encoder(image_encoder):
    if getattr(image_encoder, "output_mode", "tokens") != "tokens":
        raise ValueError(
            "VisionLanguageBackbone needs image tokens: build the image encoder "
            "with ImageEncoder(..., output='tokens')."
        )
