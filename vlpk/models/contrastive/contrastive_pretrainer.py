"""CLIP / SigLIP pretraining as a KerasHub task: raw pairs into `fit`."""

import keras

from vlpk.losses import ContrastiveLoss, SigmoidContrastiveLoss
from vlpk.models.contrastive.contrastive_preprocessor import ContrastivePreprocessor
from vlpk.models.contrastive.dual_encoder_backbone import DualEncoderBackbone
from vlpk.models.signatures import contrastive_signatures
from vlpk.models.task import VisionLanguageTask


@keras.saving.register_keras_serializable(package="vlpk")
class ContrastivePretrainer(VisionLanguageTask):
    """A dual-encoder backbone trained to pair images with their captions.

    With a preprocessor attached, `fit`, `evaluate` and `predict` take raw
    data: `x = {"images": image bytes or pixels, "text": strings}` (and
    optionally `image_id`), see `ContrastivePreprocessor`. Without one they
    take the backbone's inputs and `y = {"contrastive": image ids}`.

    The output is `{"contrastive": packed embeddings and logit scale}`.
    `compile()` defaults to CLIP's softmax loss with negatives gathered from
    every replica (`vlpk.losses.ContrastiveLoss`), or SigLIP's sigmoid loss
    (`SigmoidContrastiveLoss`) when the backbone learns a logit bias, and
    AdamW.

    Args:
        backbone: a `vlpk.models.DualEncoderBackbone`, or a
            `KerasHubDualEncoderBackbone` (a KerasHub CLIP or SigLIP model).
        preprocessor: a `vlpk.models.ContrastivePreprocessor` (or, for a
            KerasHub backbone, a `KerasHubContrastivePreprocessor`), or None.

    `from_preset` of a task saved on a `KerasHubDualEncoderBackbone` returns
    a `KerasHubContrastivePretrainer`, the subclass bound to that backbone.

    Example:
    >>> import os, tempfile, numpy as np
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.models import ContrastivePreprocessor, DualEncoderBackbone
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> tokenizer = wordpiece_tokenizer(list(SPECIAL_TOKENS) + ["a", "red", "circle"])
    >>> backbone = DualEncoderBackbone(
    ...     ImageEncoder(small_cnn(16, widths=(4,)), output="pooled"),
    ...     bert_encoder(tokenizer.vocabulary_size(), num_layers=1, num_heads=2,
    ...                  hidden_dim=8, intermediate_dim=16, max_sequence_length=6),
    ...     embedding_dim=4)
    >>> preprocessor = ContrastivePreprocessor(tokenizer, ImagePreprocessor(16),
    ...                                        sequence_length=6)
    >>> images = np.random.default_rng(0).integers(0, 255, (2, 16, 16, 3), "uint8")
    >>> captions = ["a red circle", "a circle"]
    >>> task = ContrastivePretrainer(backbone, preprocessor)
    >>> task.compile(run_eagerly=True)  # eager: quicker for one tiny step
    >>> history = task.fit({"images": images, "text": captions}, batch_size=2,
    ...                    verbose=0)
    >>> sorted(history.history)
    ['loss']
    >>> preset = os.path.join(tempfile.mkdtemp(), "clip")
    >>> task.save_to_preset(preset)
    >>> type(ContrastivePretrainer.from_preset(preset)).__name__
    'ContrastivePretrainer'

    Images may also be encoded bytes (JPEG, PNG); `vlpk.export.export_saved_model`
    exports `task.serving_archive()`.

    References:
        - [Radford et al., 2021](https://arxiv.org/abs/2103.00020) (CLIP)
        - [Zhai et al., 2023](https://arxiv.org/abs/2303.15343) (SigLIP)
    """

    backbone_cls = DualEncoderBackbone
    preprocessor_cls = ContrastivePreprocessor

    def __init__(self, backbone, preprocessor=None, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor

        # === Functional model ===
        inputs = backbone.input
        outputs = {"contrastive": backbone(inputs)["contrastive"]}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        metrics=None,
        **kwargs,
    ):
        """Configures the task, with defaults for its loss and optimizer.

        Args:
            optimizer: `"auto"` (AdamW, learning rate 1e-3, weight decay
                0.01), or any Keras optimizer.
            loss: `"auto"` (`ContrastiveLoss`, or `SigmoidContrastiveLoss`
                for a backbone with a logit bias), or any loss for the
                `contrastive` output.
            metrics: metrics for the `contrastive` output.
            **kwargs: passed to `keras.Model.compile` (e.g. `jit_compile`).
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(1e-3, weight_decay=0.01)
        if loss == "auto":
            sigmoid = self.backbone.has_logit_bias
            loss = SigmoidContrastiveLoss() if sigmoid else ContrastiveLoss()
        if not isinstance(loss, dict):
            loss = {"contrastive": loss}
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def serving_signatures(self):
        """`embed_image`, `embed_text` and `score` (also `serving_default`).

        See `vlpk.models.signatures.contrastive_signatures`.
        """
        return contrastive_signatures(self.preprocessor, self.backbone)
