"""SigLIP's pairwise sigmoid contrastive loss."""

import keras
from keras import ops

from vlpk.losses.contrastive import unpack_contrastive
from vlpk.losses.gather import gather_from_replicas


@keras.saving.register_keras_serializable(package="vlpk")
class SigmoidContrastiveLoss(keras.losses.Loss):
    """SigLIP: every (image, text) pair is a binary positive/negative problem.

    `y_pred` is the packed output of `vlpk.layers.LogitScale` built with
    `initial_bias` (SigLIP starts from temperature 0.1 and bias -10), so it
    carries `[image_embedding, text_embedding, logit_scale, logit_bias]`.
    `y_true` holds the image id of each pair; pairs with equal ids are
    positives. Each image row sums `-log σ(±(scale · cos + bias))` over the
    texts of the **global** batch (gathered from every replica), and the
    batch mean of those sums is the loss, as in big_vision.

    Args:
        global_negatives: gather texts from every replica (False only for
            ablations).

    Example:
    >>> import numpy as np
    >>> from vlpk.layers import LogitScale
    >>> scale = LogitScale(initial_temperature=0.1, initial_bias=-10.0)
    >>> packed = scale({"image": np.eye(2, 4), "text": np.eye(2, 4)})
    >>> loss = SigmoidContrastiveLoss()
    >>> round(float(loss(np.array([0, 1]), packed)), 3)  # log 2 for each positive
    0.693
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.models import DualEncoderBackbone
    >>> model = DualEncoderBackbone(
    ...     ImageEncoder(small_cnn(16, widths=(4,)), output="pooled"),
    ...     bert_encoder(10, num_layers=1, num_heads=2, hidden_dim=8,
    ...                  intermediate_dim=16, max_sequence_length=6),
    ...     embedding_dim=4, initial_temperature=0.1, initial_bias=-10.0)
    >>> model.compile("adam", loss={"contrastive": SigmoidContrastiveLoss()})

    References:
        - [Zhai et al., 2023](https://arxiv.org/abs/2303.15343) (SigLIP)
    """

    def __init__(self, global_negatives=True, name="sigmoid_contrastive_loss", **kw):
        super().__init__(name=name, **kw)
        self.global_negatives = global_negatives

    def call(self, y_true, y_pred):
        image, text, scale, bias = unpack_contrastive(y_pred)
        if bias is None:
            raise ValueError(
                "SigmoidContrastiveLoss needs a learned bias: build the model "
                "with initial_bias (e.g. DualEncoderBackbone(..., initial_bias=-10.0))."
            )
        ids = ops.reshape(y_true, (-1,))
        if self.global_negatives:
            all_text, all_ids = gather_from_replicas(text, ids)
        else:
            all_text, all_ids = text, ids
        logits = scale * ops.matmul(image, ops.transpose(all_text)) + bias
        same = ops.equal(ops.reshape(ids, (-1, 1)), ops.reshape(all_ids, (1, -1)))
        signs = ops.where(same, 1.0, -1.0)
        signs = ops.cast(signs, logits.dtype)
        return -ops.sum(ops.log_sigmoid(signs * logits), axis=-1)

    def get_config(self):
        config = super().get_config()
        config["global_negatives"] = self.global_negatives
        return config
