"""ALBEF / CoCa pretraining as a KerasHub task: raw pairs into `fit`."""

import keras
import keras_hub

from vlpk.layers.hard_negatives import HardNegativeSampler
from vlpk.losses import CaptioningLoss, ContrastiveLoss, SigmoidContrastiveLoss
from vlpk.metrics.token_accuracy import MaskedTokenAccuracy
from vlpk.models.captioning.generation import caption_signature, generate_text
from vlpk.models.inputs import image_input, text_inputs
from vlpk.models.signatures import contrastive_signatures
from vlpk.models.task import VisionLanguageTask
from vlpk.models.vision_language.vision_language_backbone import (
    VisionLanguageBackbone,
)
from vlpk.models.vision_language.vision_language_preprocessor import (
    VisionLanguagePreprocessor,
    check_objectives,
)

# As in the shipped configs: equal weights, and CoCa's captioning loss
# weighing twice the contrastive loss (Yu et al., 2022).
DEFAULT_LOSS_WEIGHTS = {
    "contrastive": 1.0,
    "matching": 1.0,
    "masked_lm": 1.0,
    "captioning": 2.0,
}


@keras.saving.register_keras_serializable(package="vlpk")
class ImageTextPretrainer(VisionLanguageTask):
    """Pretrains a `VisionLanguageBackbone` on image-text pairs.

    One task for the ALBEF / BLIP and the CoCa recipes: `objectives` choose
    the heads. KerasHub names a task after what it does with its inputs
    (`CausalLM`, `ImageClassifier`, `ImageToText`); this one learns from
    image-text pairs, as `ContrastivePretrainer` learns from contrastive
    pairs.

    With a preprocessor (`VisionLanguagePreprocessor`), `fit`, `evaluate`
    and `predict` take raw data: `{"images": image bytes or pixels, "text":
    strings}` and optionally `image_id`. Without one they take what the
    preprocessor makes. The outputs are a dict, one entry per objective:

    - `contrastive`: the packed embeddings and logit scale;
    - `matching` `[B, 3]`: matching logits of (image, its text), (image, a
      hard-negative text) and (a hard-negative image, text), negatives drawn
      from the contrastive similarities of the (global) batch
      (`HardNegativeSampler`); targets `[1, 0, 0]`;
    - `masked_lm` `[B, P, V]`: logits at the masked positions, the masked
      text seen through the fusion encoder, so it can look at the image;
    - `captioning` `[B, T, V]`: next-token logits (teacher forcing).

    `compile()` gives each objective its loss (`ContrastiveLoss`, or
    `SigmoidContrastiveLoss` for a backbone with a logit bias;
    `BinaryCrossentropy(from_logits=True)`; token cross-entropy that ignores
    `[PAD]`), the weights of `DEFAULT_LOSS_WEIGHTS`, accuracy metrics and
    AdamW. `generate()` captions raw images with the backbone's decoder.

    Args:
        backbone: a `vlpk.models.VisionLanguageBackbone`.
        preprocessor: a `vlpk.models.VisionLanguagePreprocessor`, or None.
        objectives: from `contrastive` (always), `matching`, `masked_lm`
            and `captioning`. None takes the preprocessor's, or, without a
            preprocessor, every objective the backbone's parts allow.
        seed: the seed of the hard-negative sampler.

    Example:
    >>> import os, tempfile, numpy as np, tensorflow as tf
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.layers import CaptionDecoder
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> words = [*SPECIAL_TOKENS, "a", "red", "blue", "circle", "square"]
    >>> size = dict(num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16)
    >>> backbone = VisionLanguageBackbone(  # CoCa: a caption decoder, no fusion
    ...     ImageEncoder(small_cnn(16, widths=(4,)), output="tokens"),
    ...     bert_encoder(len(words), max_sequence_length=6, **size),
    ...     caption_decoder=CaptionDecoder(len(words), 6, **size))
    >>> preprocessor = VisionLanguagePreprocessor(wordpiece_tokenizer(words),
    ...     ImagePreprocessor(16), 6, objectives=("contrastive", "captioning"))
    >>> task = ImageTextPretrainer(backbone, preprocessor)
    >>> task.compile(run_eagerly=True)  # eager: quicker for one tiny step
    >>> pixels = np.random.default_rng(0).integers(0, 255, (2, 16, 16, 3), "uint8")
    >>> pairs = tf.data.Dataset.from_tensors(  # a batch of raw pairs (or arrays)
    ...     {"images": pixels, "text": ["a red circle", "a square"]})
    >>> history = task.fit(pairs, verbose=0)
    >>> sorted(history.history)
    ['captioning_accuracy', 'captioning_loss', 'contrastive_loss', 'loss']
    >>> preset = os.path.join(tempfile.mkdtemp(), "coca")
    >>> task.save_to_preset(preset)
    >>> ImageTextPretrainer.from_preset(preset).objectives  # its weights too
    ('contrastive', 'captioning')

    References:
        - [Li et al., 2021](https://arxiv.org/abs/2107.07651) (ALBEF)
        - [Yu et al., 2022](https://arxiv.org/abs/2205.01917) (CoCa)
    """

    backbone_cls = VisionLanguageBackbone
    preprocessor_cls = VisionLanguagePreprocessor

    def __init__(
        self, backbone, preprocessor=None, objectives=None, seed=None, **kwargs
    ):
        objectives = _objectives(objectives, backbone, preprocessor)

        # === Layers ===
        # Made after the backbone's matching head, in this order: the order
        # fixes the weights a seed gives, and so the published figures.
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.hard_negatives = None
        if "matching" in objectives:
            self.hard_negatives = HardNegativeSampler(seed=seed, name="hard_negatives")
        self.masked_lm_head = None
        if "masked_lm" in objectives:
            self.masked_lm_head = keras_hub.layers.MaskedLMHead(
                vocabulary_size=_vocabulary_size(backbone.text_encoder),
                activation=None,
                # Float32 logits keep the softmax of the loss stable under a
                # mixed-precision policy.
                dtype="float32",
                name="masked_lm_head",
            )
        self.objectives = objectives
        self.seed = seed

        # === Functional model ===
        inputs = _inputs(backbone, objectives)
        features = backbone.encode(
            inputs["images"], inputs["token_ids"], inputs["padding_mask"]
        )
        contrastive = backbone.logit_scale_layer(
            {"image": features["image_embedding"], "text": features["text_embedding"]}
        )
        outputs = {"contrastive": contrastive}
        if self.hard_negatives is not None:
            outputs["matching"] = self._matching(inputs, features, contrastive)
        if self.masked_lm_head is not None:
            outputs["masked_lm"] = self._masked_lm(inputs, features)
        if "captioning" in objectives:
            outputs["captioning"] = backbone.caption_logits(
                features["image_tokens"], inputs["token_ids"], inputs["padding_mask"]
            )
        # Named, and float32 whatever the policy: the losses' softmaxes and
        # log-sigmoids stay stable (the logits heads compute in float32, and a
        # mixed-policy Identity would cast them back to bfloat16).
        outputs = {
            name: keras.layers.Identity(dtype="float32", name=name)(output)
            for name, output in outputs.items()
        }
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    def _matching(self, inputs, features, contrastive):
        """`[B, 3]` logits of each pair and its two hard negatives."""
        image, text = self.backbone.matching_inputs(features)
        triplets = self.hard_negatives(
            {
                "contrastive": contrastive,
                "image_id": inputs["image_id"],
                "image_tokens": image,
                "text_tokens": text,
                "padding_mask": inputs["padding_mask"],
            }
        )
        fused = self.backbone.fuse(
            triplets["image_tokens"], triplets["text_tokens"], triplets["padding_mask"]
        )
        return self.backbone.matching_head(fused)

    def _masked_lm(self, inputs, features):
        """Logits at the masked positions of the masked text, fused."""
        masked = self.backbone.get_text_tokens(
            inputs["masked_token_ids"], inputs["padding_mask"]
        )
        fused = self.backbone.fuse(
            features["image_tokens"], masked, inputs["padding_mask"]
        )
        return self.masked_lm_head(fused, mask_positions=inputs["mask_positions"])

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        loss_weights="auto",
        metrics="auto",
        **kwargs,
    ):
        """Configures the task, with defaults for every objective.

        Args:
            optimizer: `"auto"` (AdamW, learning rate 1e-3, weight decay
                0.01), or any Keras optimizer.
            loss: `"auto"` (one loss per objective, see the class), or a
                dict of losses keyed by objective.
            loss_weights: `"auto"` (`DEFAULT_LOSS_WEIGHTS`), a dict, or None.
            metrics: `"auto"` (matching accuracy, masked-token accuracy of
                the masked LM and of the captioner), a dict, or None.
            **kwargs: passed to `keras.Model.compile` (e.g. `jit_compile`).
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(1e-3, weight_decay=0.01)
        if loss == "auto":
            loss = {name: self._default_loss(name) for name in self.objectives}
        if loss_weights == "auto":
            loss_weights = {
                name: DEFAULT_LOSS_WEIGHTS[name] for name in self.objectives
            }
        if metrics == "auto":
            metrics = _default_metrics(self.objectives)
        super().compile(
            optimizer=optimizer,
            loss=loss,
            loss_weights=loss_weights,
            metrics=metrics,
            **kwargs,
        )

    def _default_loss(self, objective):
        if objective == "contrastive":
            sigmoid = self.backbone.has_logit_bias
            return SigmoidContrastiveLoss() if sigmoid else ContrastiveLoss()
        if objective == "matching":
            return keras.losses.BinaryCrossentropy(from_logits=True)
        if objective == "masked_lm":
            # 0 is [PAD]: the unused mask slots.
            return keras.losses.SparseCategoricalCrossentropy(
                from_logits=True, ignore_class=0
            )
        return CaptioningLoss()

    def generate(self, inputs, max_length=None, sampler="greedy", **sampler_kwargs):
        """Captions raw images with the backbone's caption decoder.

        Args:
            inputs: image bytes or pixels (`[H, W, 3]` or `[B, H, W, 3]`,
                0–255), or a dict with them under `images`; prepared by the
                preprocessor's image converter.
            max_length: the caption length, start token included; defaults
                to the decoder's `sequence_length`.
            sampler: a `keras_hub.samplers.Sampler` or its name (`"greedy"`,
                `"beam"`, `"top_k"`, `"top_p"`, `"random"`).
            **sampler_kwargs: arguments of a sampler given by name
                (`num_beams=3`, `k=5, seed=0`, ...).

        Returns:
            A string per image, or one string for one image.

        Example:
        >>> import keras, numpy as np, tensorflow as tf
        >>> from vlpk.config import PretrainConfig
        >>> from vlpk.data import ImagePreprocessor
        >>> from vlpk.jobs.recipes import build_backbone
        >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
        >>> keras.utils.set_random_seed(5)
        >>> config = PretrainConfig().smoke().replace(  # a tiny CoCa
        ...     objectives={"contrastive": 1.0, "captioning": 2.0},
        ...     image={"size": 16, "widths": (4,)}, text={"sequence_length": 6})
        >>> tokenizer = wordpiece_tokenizer([*SPECIAL_TOKENS, "red", "circle"])
        >>> task = ImageTextPretrainer(
        ...     build_backbone(config, tokenizer.vocabulary_size()),
        ...     VisionLanguagePreprocessor(tokenizer, ImagePreprocessor(16), 6))
        >>> png = tf.io.encode_png(np.zeros((8, 8, 3), "uint8")).numpy()
        >>> task.generate([png], sampler="beam", num_beams=3)  # untrained: any words
        ['[UNK] circle']
        >>> task.generate(png)  # one image: one string
        '[UNK] circle'
        """
        return generate_text(
            self,
            self.backbone.caption_decoder,
            inputs,
            max_length=max_length,
            sampler=sampler,
            **sampler_kwargs,
        )

    def serving_signatures(self):
        """`embed_image`, `embed_text`, `score` (`serving_default`) and, with
        a caption decoder, `caption`: `image_bytes` → one string per image.

        Captions are generated greedily inside the graph (KerasHub's sampler
        loop) and detokenized with TensorFlow ops.
        """
        signatures = contrastive_signatures(self.preprocessor, self.backbone)
        decoder = self.backbone.caption_decoder
        if decoder is None:
            return signatures
        return {**signatures, "caption": caption_signature(self, decoder)}

    def get_config(self):
        config = super().get_config()
        config.update({"objectives": list(self.objectives), "seed": self.seed})
        return config


def _objectives(objectives, backbone, preprocessor):
    """The task's objectives, checked against its backbone and preprocessor."""
    given = getattr(preprocessor, "objectives", None)
    if objectives is None:
        objectives = given or _possible_objectives(backbone)
    objectives = check_objectives(objectives)
    if given is not None and set(given) != set(objectives):
        raise ValueError(
            f"The preprocessor makes targets for {tuple(given)} but the task "
            f"trains {objectives}: build both with the same objectives."
        )
    needs_fusion = {"matching", "masked_lm"} & set(objectives)
    if needs_fusion and backbone.fusion is None:
        raise ValueError(f"{sorted(needs_fusion)} need a backbone with a fusion layer.")
    if "masked_lm" in objectives and not backbone.fuses_tokens:
        raise ValueError(
            "'masked_lm' predicts tokens, so it needs token-level fusion "
            "(CrossAttentionFusion); ConcatFusion fuses pooled vectors."
        )
    if "captioning" in objectives and backbone.caption_decoder is None:
        raise ValueError("'captioning' needs a backbone with a caption_decoder.")
    return objectives


def _possible_objectives(backbone):
    objectives = ["contrastive"]
    if backbone.fusion is not None:
        objectives.append("matching")
    if backbone.fuses_tokens:
        objectives.append("masked_lm")
    if backbone.caption_decoder is not None:
        objectives.append("captioning")
    return objectives


def _inputs(backbone, objectives):
    """The named inputs: the backbone's, plus what the heads need."""
    text = text_inputs(backbone.text_encoder)
    inputs = {"images": image_input(backbone.image_encoder), **text}
    if "matching" in objectives:
        inputs["image_id"] = keras.Input(shape=(), dtype="int32", name="image_id")
    if "masked_lm" in objectives:
        inputs["masked_token_ids"] = keras.Input(
            shape=text["token_ids"].shape[1:], dtype="int32", name="masked_token_ids"
        )
        inputs["mask_positions"] = keras.Input(
            shape=(None,), dtype="int32", name="mask_positions"
        )
    return inputs


def _default_metrics(objectives):
    metrics = {
        "matching": [keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
        "masked_lm": [MaskedTokenAccuracy()],
        "captioning": [MaskedTokenAccuracy()],
    }
    return {name: metrics[name] for name in objectives if name in metrics} or None


def _vocabulary_size(text_encoder):
    """What the masked LM head predicts over: the text encoder's vocabulary."""
    size = getattr(getattr(text_encoder, "backbone", None), "vocabulary_size", None)
    if size is None:
        raise ValueError(
            "masked_lm predicts over the text encoder's vocabulary: wrap a "
            "KerasHub backbone with a `vocabulary_size` in vlpk.encoders.TextEncoder."
        )
    return size
