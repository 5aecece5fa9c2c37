"""Channel equalization of convolutional image encoders before int8.

int8 activations have one scale per tensor, so a channel whose values span
a small part of the tensor's range gets only a few of its 256 levels. In the
`small_cnn` encoders (convolution → group norm → ReLU → convolution) the
channels' ranges differ a lot: on the `shapes_albef` run, the 99.99th
percentile of the last convolution's output channels runs from 1.1 to 79,
and of the ReLU outputs that feed a convolution from 3.5 to 16. Group
normalization then rescales each group to unit variance, so the rounding
error of the small channels is amplified.

`equalize_for_int8` returns an equivalent model (the same outputs in
float32, to rounding) whose channels span similar ranges, built from two
rewrites that are exact in float:

- **ReLU → convolution** (cross-layer equalization, Nagel et al. 2019): the
  group norm's `gamma` and `beta` of channel `k` are divided by `s_k`, so
  its ReLU output shrinks by `s_k`, and the next convolution's input
  channel `k` is multiplied by `s_k`. ReLU commutes with positive scales.
- **convolution → group norm**: output channel `c` of the convolution is
  shifted by `-m_c` (through its bias) and divided by `r_c`, so every
  channel spans `[-M, M]`; the group norm multiplies by `r_c` and adds
  `m_c` right after its reshape into groups (`PrescaledGroupNormalization`).
  Those ops stay float32: TFLite folds a multiply that directly follows a
  convolution back into its kernel, but not one behind the reshape.

`s` brings each ReLU channel's `percentile` of `x` up to the largest
channel's; `m` and `r` are the midpoint and the half-width (over the
widest channel's) of each convolution channel's central `percentile` %.
Models without these patterns (ViT, VGG16, KerasHub backbones) come back
unchanged.

On the `shapes_albef` image encoder (100 validation images, int8 with
`INT8_FLOAT_OPS` and percentile ranges) the mean cosine to Keras went from
0.99739 to 0.99945 (see docs/results.md, TFLite).
"""

import warnings

import keras
import numpy as np
from keras import ops

from vlpk.encoders.image_encoder import ImageEncoder


@keras.saving.register_keras_serializable(package="vlpk")
class PrescaledGroupNormalization(keras.layers.GroupNormalization):
    """`GroupNormalization` that first maps each channel `x -> x * a + b`.

    The multiply and add come after the reshape into groups (see the module
    docstring). Used only for int8 export.

    Args:
        input_scale: `a`, one float per channel.
        input_shift: `b`, one float per channel (default zeros).
        **kwargs: `GroupNormalization` arguments (channels last).

    Example:
    >>> layer = PrescaledGroupNormalization([2.0] * 16, groups=8)
    >>> layer(np.ones((1, 4, 4, 16), "float32")).shape
    TensorShape([1, 4, 4, 16])
    """

    def __init__(self, input_scale, input_shift=None, **kwargs):
        super().__init__(**kwargs)
        if self.axis != -1:
            raise ValueError("PrescaledGroupNormalization needs axis=-1.")
        self.input_scale = [float(s) for s in input_scale]
        if input_shift is None:
            input_shift = [0.0] * len(self.input_scale)
        if len(input_shift) != len(self.input_scale):
            raise ValueError("input_shift needs one value per channel.")
        self.input_shift = [float(s) for s in input_shift]

    def _reshape_into_groups(self, inputs):
        grouped = super()._reshape_into_groups(inputs)
        scale = np.asarray(self.input_scale, "float32").reshape(self.groups, -1)
        shift = np.asarray(self.input_shift, "float32").reshape(self.groups, -1)
        grouped = grouped * ops.cast(scale, grouped.dtype)
        return grouped + ops.cast(shift, grouped.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "input_scale": self.input_scale,
            "input_shift": self.input_shift,
        }


def equalize_for_int8(model, images, percentile=99.99):
    """An equivalent copy of `model` with its encoder's channels equalized.

    Args:
        model: a Keras model that contains an `ImageEncoder` layer (e.g.
            `vlpk.export.tflite_models.embedding_models(backbone, False)[0]`).
        images: calibration images, a float32 array `[N, H, W, 3]` as the
            model takes them.
        percentile: the central share (%) of each channel's values that
            sets its range.

    Returns:
        `model` itself when there is nothing to equalize (or, with a
        warning, when a backbone layer cannot be rebuilt from its config);
        otherwise a new model that shares all weights but the encoder's
        backbone.

    Example:
    >>> from vlpk.config import PretrainConfig
    >>> from vlpk.export.tflite_models import embedding_models
    >>> from vlpk.jobs.recipes import build_dual_encoder
    >>> backbone = build_dual_encoder(PretrainConfig().smoke(), 8)  # a small_cnn
    >>> embedder, _ = embedding_models(backbone, normalized=False)
    >>> images = np.random.default_rng(0).uniform(0, 255, (8, 64, 64, 3))
    >>> equalized = equalize_for_int8(embedder, images)  # calibration images
    >>> equalized is embedder, np.allclose(equalized(images), embedder(images),
    ...                                    atol=1e-4)  # equivalent, in float
    (False, True)
    """
    encoder = next((x for x in model.layers if isinstance(x, ImageEncoder)), None)
    if encoder is None or not isinstance(encoder.backbone, keras.Model):
        return model
    backbone = encoder.backbone
    try:
        pairs = _patterns(backbone)
    except (AttributeError, ValueError):  # not a functional backbone
        return model
    if not any(pairs.values()):
        return model
    normalized = np.asarray(encoder.pixel_normalization(images))
    relu_scale, conv_affine = _channel_ranges(backbone, pairs, normalized, percentile)
    new_backbone = _prescaled_copy(backbone, pairs, conv_affine)
    if new_backbone is None:
        return model
    _equalize_weights(backbone, new_backbone, pairs, relu_scale, conv_affine)
    new_encoder = ImageEncoder(
        new_backbone,
        output=encoder.output_mode,
        normalization=encoder.normalization,
        image_size=encoder.image_size,
        name=encoder.name,
    )
    return keras.models.clone_model(
        model, clone_function=lambda x: new_encoder if x is encoder else x
    )


def _channel_ranges(backbone, pairs, images, percentile):
    """`(relu_scale, conv_affine)` by layer name, measured on `images`.

    `relu_scale` holds `s` of each ReLU of `pairs["relu_conv"]`
    (`_channel_scale`), `conv_affine` the `(r, m)` of each convolution of
    `pairs["conv_norm"]` (`_channel_affine`); `images` are already
    normalized for the backbone.
    """
    relus = [relu for _, relu, _ in pairs["relu_conv"]]
    convs = [conv for conv, _ in pairs["conv_norm"]]
    probe = keras.Model(backbone.input, [x.output for x in relus + convs])
    values = probe.predict(images, batch_size=64, verbose=0)
    values = dict(zip(relus + convs, values if isinstance(values, list) else [values]))
    relu_scale = {x.name: _channel_scale(values[x], percentile) for x in relus}
    conv_affine = {x.name: _channel_affine(values[x], percentile) for x in convs}
    return relu_scale, conv_affine


def _prescaled_copy(backbone, pairs, conv_affine):
    """A copy of `backbone` with fresh weights, or `None` (with a warning).

    The group norms of `pairs["conv_norm"]` become
    `PrescaledGroupNormalization`s that undo their convolution's `(r, m)`,
    and those convolutions get a bias to carry the shift.
    """
    prescale = {norm.name: conv_affine[conv.name] for conv, norm in pairs["conv_norm"]}

    def clone(layer):
        config = layer.get_config()
        if layer.name in prescale:
            scale, shift = prescale[layer.name]
            config["axis"] = -1  # `_is_group_norm` allows only the last axis
            return PrescaledGroupNormalization(scale, shift, **config)
        if layer.name in conv_affine:
            config["use_bias"] = True  # carries the shift
        return layer.__class__.from_config(config)

    try:
        return keras.models.clone_model(backbone, clone_function=clone)
    except Exception as error:  # a layer that cannot be rebuilt from its config
        warnings.warn(
            f"int8 export: could not copy the image backbone to equalize its "
            f"channels ({type(error).__name__}: {error}); exporting it "
            "without channel equalization.",
            # Points at the caller of `equalize_for_int8`.
            stacklevel=3,
        )
        return None


def _equalize_weights(backbone, new_backbone, pairs, relu_scale, conv_affine):
    """Sets the weights of `new_backbone`: those of `backbone`, equalized."""
    for old in backbone.layers:
        if not old.weights:
            continue
        new = new_backbone.get_layer(old.name)
        if old.name in conv_affine:
            # kernel / r and (bias - shift) / r: each channel spans [-M, M].
            scale, shift = conv_affine[old.name]
            bias = np.asarray(old.bias) if old.use_bias else np.zeros_like(scale)
            new.kernel.assign(np.asarray(old.kernel) / scale)
            new.bias.assign((bias - shift) / scale)
        else:
            new.set_weights(old.get_weights())
    for norm, relu, conv in pairs["relu_conv"]:
        s = relu_scale[relu.name]
        new_norm = new_backbone.get_layer(norm.name)
        new_norm.gamma.assign(np.asarray(new_norm.gamma) / s)
        new_norm.beta.assign(np.asarray(new_norm.beta) / s)
        new_conv = new_backbone.get_layer(conv.name)
        new_conv.kernel.assign(np.asarray(new_conv.kernel) * s[:, None])


def _channel_scale(values, percentile):
    """Each channel's `percentile` of `|x|` over the largest channel's, with
    empty channels left at 1."""
    values = np.abs(np.asarray(values, np.float64)).reshape(-1, values.shape[-1])
    return _relative(np.percentile(values, percentile, axis=0))


def _channel_affine(values, percentile):
    """`(scale, shift)` per channel: the midpoint of the channel's central
    `percentile` % of values, and its half-width over the widest one's."""
    values = np.asarray(values, np.float64).reshape(-1, values.shape[-1])
    tail = (100 - percentile) / 2
    low, high = np.percentile(values, [tail, 100 - tail], axis=0)
    return _relative((high - low) / 2), ((high + low) / 2).astype("float32")


def _relative(high):
    top = high.max()
    if top <= 0:
        return np.ones_like(high, "float32")
    return np.where(high > 1e-6 * top, high / top, 1.0).astype("float32")


def _consumer(layer):
    """The one layer that reads `layer`'s output, or None."""
    nodes = layer._outbound_nodes
    if len(nodes) != 1:
        return None
    return nodes[0].operation


def _is_relu(layer):
    if isinstance(layer, keras.layers.ReLU):
        return (
            layer.max_value is None
            and float(layer.negative_slope) == 0
            and float(layer.threshold) == 0
        )
    if isinstance(layer, keras.layers.Activation):
        return getattr(layer.activation, "__name__", "") == "relu"
    return False


def _is_group_norm(layer):
    return (
        type(layer) is keras.layers.GroupNormalization
        and layer.axis in (-1, len(layer.input.shape) - 1)
        and layer.scale
        and layer.center
    )


def _is_linear_conv(layer):
    return (
        type(layer) is keras.layers.Conv2D
        and layer.groups == 1
        and layer.activation is keras.activations.linear
    )


def _patterns(backbone):
    """`{"conv_norm": [(conv, norm)], "relu_conv": [(norm, relu, conv)]}`."""
    conv_norm, relu_conv = [], []
    for layer in backbone.layers:
        if _is_linear_conv(layer):
            norm = _consumer(layer)
            if norm is not None and _is_group_norm(norm):
                conv_norm.append((layer, norm))
        if _is_group_norm(layer):
            relu = _consumer(layer)
            if relu is not None and _is_relu(relu):
                conv = _consumer(relu)
                if conv is not None and _is_linear_conv(conv):
                    relu_conv.append((layer, relu, conv))
    return {"conv_norm": conv_norm, "relu_conv": relu_conv}
