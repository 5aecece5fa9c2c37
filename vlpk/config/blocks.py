"""The blocks of `PretrainConfig`: one per part a recipe builds, plus data,
optimization and distribution."""

import dataclasses
import os

from vlpk.config.base import ConfigBase, _check_choice, _check_positive
from vlpk.errors import InputError


# image block needs the encoders' names only to validate and build.
def _application_names():
    from vlpk.encoders.applications import APPLICATION_NAMES

    return APPLICATION_NAMES


def applications_constructor(name):
    """The `keras.applications` constructor called `name` (any case), or None.

    Example:
    >>> applications_constructor("mobilenetv2").__name__
    'MobileNetV2'
    """
    import keras

    for attribute in dir(keras.applications):
        if attribute.lower() == str(name).lower() and attribute[0].isupper():
            return getattr(keras.applications, attribute)
    return None


def _is_preset_path_or_handle(name):
    if "://" in name:
        return True
    separators = (os.sep, os.altsep) if os.altsep else (os.sep,)
    return name.startswith((".", "~")) or any(s in name for s in separators)


NORMALIZATIONS = ("auto", "caffe", "tf", "torch", "unit", "none")
KERAS_CV_PREFIX = "keras_cv:"


@dataclasses.dataclass
class ImageConfig(ConfigBase):
    """The image encoder (`vlpk.jobs.recipes.build_image_encoder`).

    `backbone` is one of:

    - `"small_cnn"`: `vlpk.encoders.small_cnn`, sized by `widths`;
    - `"vit"`: KerasHub's `ViTBackbone`, sized by `patch_size`, `layers`,
      `heads`, `hidden_dim` and `mlp_dim` (or, when `weights` names a
      KerasHub preset folder, that preset);
    - a `keras.applications` model, any case: `"vgg16"`, `"resnet50"`,
      `"efficientnetv2b0"`, `"mobilenetv3small"`... (the names of
      `vlpk.encoders.applications.APPLICATION_NAMES` know their pixel
      normalization; any other `keras.applications` model, such as
      `"mobilenetv2"` or `"efficientnetb0"`, needs `normalization` set);
    - a KerasHub image preset: a built-in name (`"resnet_50_imagenet"`), a
      `kaggle://` or `hf://` handle, or a local preset folder;
    - `"keras_cv:<preset>"`: a KerasCV preset (the optional `kerascv` extra).

    `weights`: `None` starts from random weights. `keras.applications` models
    take `"imagenet"` or a weights file; presets take `"preset"` (the preset's
    own weights); `"vit"` takes a KerasHub preset folder. Downloads follow
    `vlpk.encoders.weights`' offline policy.

    Example:
    >>> ImageConfig(backbone="resnet50", size=32).validate().kind()
    'applications'
    """

    backbone: str = "small_cnn"
    weights: str | None = None
    # The side of the square input images (the preprocessor resizes to it,
    # and Shapes is generated at it).
    size: int = 64
    # The PixelNormalization mode; "auto": the backbone's own ("unit" for
    # small_cnn and presets, "tf" for vit, the application's).
    normalization: str = "auto"
    # small_cnn.
    widths: tuple = (32, 64, 128)
    # vit.
    patch_size: int = 16
    layers: int = 12
    heads: int = 12
    hidden_dim: int = 768
    mlp_dim: int = 3072

    def vit_sizes(self):
        """The `vit` sizes, as `keras_hub.models.ViTBackbone` takes them.

        Example:
        >>> ImageConfig(size=32, layers=1).vit_sizes()["image_shape"]
        (32, 32, 3)
        """
        return {
            "image_shape": (self.size, self.size, 3),
            "patch_size": self.patch_size,
            "num_layers": self.layers,
            "num_heads": self.heads,
            "hidden_dim": self.hidden_dim,
            "mlp_dim": self.mlp_dim,
        }

    def kind(self):
        """What builds `backbone`: `"small_cnn"`, `"vit"`, `"applications"`,
        `"keras_hub"` or `"keras_cv"`; an `InputError` for an unknown name."""
        name = str(self.backbone)
        if name in ("small_cnn", "vit"):
            return name
        if name.startswith(KERAS_CV_PREFIX):
            return "keras_cv"
        if applications_constructor(name) is not None:
            return "applications"
        if _is_preset_path_or_handle(name) or os.path.isdir(name):
            return "keras_hub"
        import keras_hub

        if name in keras_hub.models.Backbone.presets:
            return "keras_hub"
        raise InputError(
            f"Unknown image.backbone {name!r}; choose small_cnn, vit, a "
            f"keras.applications model ({', '.join(_application_names())}, or "
            "any other keras.applications name with image.normalization set), a "
            "KerasHub preset name or folder, or keras_cv:PRESET."
        )

    def validate(self):
        """Checks the backbone, its weights and the normalization."""
        kind = self.kind()
        _check_choice(self, "image.normalization", NORMALIZATIONS)
        _check_positive(self, ("image.size",))
        known = str(self.backbone).lower() in _application_names()
        if kind == "applications" and not known and self.normalization == "auto":
            raise InputError(
                f"vlpk does not know the pixel normalization of keras.applications "
                f"{self.backbone!r}: set image.normalization to the mode of its "
                f"`preprocess_input` (one of {NORMALIZATIONS[1:]})."
            )
        allowed = {
            "small_cnn": (None,),
            "keras_hub": (None, "preset"),
            "keras_cv": (None, "preset"),
        }.get(kind)
        if allowed and self.weights not in allowed:
            raise InputError(
                f"image.backbone={self.backbone} takes image.weights "
                f"{' or '.join(str(a) for a in allowed)}; got {self.weights!r}."
            )
        return self


@dataclasses.dataclass
class TransformerConfig(ConfigBase):
    """The sizes of a transformer stack: the `text` and `decoder` blocks."""

    layers: int = 2
    heads: int = 2
    hidden_dim: int = 64
    intermediate_dim: int = 128
    dropout: float = 0.0

    def sizes(self):
        """The sizes under KerasHub's argument names (`num_layers`, ...).

        Example:
        >>> TransformerConfig(layers=4).sizes()["num_layers"]
        4
        """
        return {
            "num_layers": self.layers,
            "num_heads": self.heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
        }


@dataclasses.dataclass
class TextConfig(TransformerConfig):
    """The text encoder and its tokenizer (`build_text_encoder`).

    A transformer built from the `TransformerConfig` sizes over a WordPiece
    vocabulary learned from the training captions, or a local KerasHub text
    preset (with its own tokenizer).
    """

    # "bert", "roberta" or "distilbert" (KerasHub backbones built from the
    # sizes below); ignored when `preset` is set.
    backbone: str = "bert"
    # A KerasHub text preset (e.g. a local bert_base_en folder) instead.
    preset: str | None = None
    # "cls", "mean" or "pooler" (BERT's); "auto": "pooler" for BERT and
    # presets, "cls" for the others.
    pooling: str = "auto"
    # The learned vocabulary's size, and the token length of every caption.
    vocabulary_size: int = 400
    sequence_length: int = 20

    def validate(self):
        _check_choice(self, "text.backbone", ("bert", "roberta", "distilbert"))
        _check_choice(self, "text.pooling", ("auto", "cls", "mean", "pooler"))
        _check_positive(self, ("text.sequence_length",))
        return self


@dataclasses.dataclass
class FusionConfig(ConfigBase):
    """The fusion encoder of the matching and masked-LM objectives."""

    # "cross_attention" (token level) or "concat" (pooled vectors, matching
    # only).
    kind: str = "cross_attention"
    layers: int = 2
    heads: int = 2
    # Also the hidden size of concat's matching MLP.
    intermediate_dim: int = 128
    dropout: float = 0.0

    def validate(self):
        _check_choice(self, "fusion.kind", ("cross_attention", "concat"))
        return self


@dataclasses.dataclass
class DecoderConfig(TransformerConfig):
    """The caption decoder of the captioning objective (and fine-tuning)."""

    # How validation captions are generated: "greedy", "beam" or "top_k".
    sampler: str = "greedy"

    def validate(self):
        _check_choice(self, "decoder.sampler", ("greedy", "beam", "top_k"))
        return self


@dataclasses.dataclass
class DataConfig(ConfigBase):
    """The data: converted shards, generated Shapes, or COCO captions from disk.

    Setting `train` (a split folder of `vlpk data convert`) makes the run
    read shards, whatever `name` says; `val` and `test` default to the
    `val` and `test` folders beside it, as a Karpathy conversion writes them.
    """

    # "shapes" (generated) or "coco" (captions JSON + image folders); ignored
    # when `train` names shards.
    name: str = "shapes"
    # Shards: split folders written by `vlpk data convert`.
    train: str | None = None
    val: str | None = None
    test: str | None = None
    # Shapes: images per split.
    train_images: int = 2000
    val_images: int = 200
    test_images: int = 500
    # COCO: the captions JSON files and image folders.
    train_annotations: str | None = None
    train_image_dir: str | None = None
    val_annotations: str | None = None
    val_image_dir: str | None = None

    @property
    def uses_shards(self):
        """Whether the splits are shard folders (`train` is set)."""
        return bool(self.train)

    @property
    def label(self):
        """What the data is, for progress lines: `shards`, `shapes`, `coco`."""
        return "shards" if self.uses_shards else self.name

    def validate(self):
        if not self.uses_shards and (self.val or self.test):
            raise InputError(
                "data.val and data.test are shard folders, read with "
                "data.train: set data.train=PATH too."
            )
        _check_choice(self, "data.name", ("shapes", "coco"))
        _check_positive(self, ("data.train_images", "data.val_images"))
        if self.name == "coco" and not self.uses_shards:
            for key in (
                "train_annotations",
                "train_image_dir",
                "val_annotations",
                "val_image_dir",
            ):
                if not getattr(self, key):
                    raise InputError(
                        f"data.name=coco needs data.{key}: pass it with "
                        f"--set data.{key}=PATH."
                    )
        return self


@dataclasses.dataclass
class OptimizationConfig(ConfigBase):
    """Batches, schedule and optimizer (AdamW, warm-up then cosine decay)."""

    batch_size: int = 64
    epochs: int = 10
    steps_per_epoch: int | None = None
    learning_rate: float = 2e-3
    warmup_fraction: float = 0.05
    weight_decay: float = 1e-4
    # Fault tolerance: checkpoint every N steps and resume from there after a
    # crash, at the same batch (None: plain epochs, no mid-run checkpoints).
    checkpoint_every: int | None = None

    def validate(self):
        _check_positive(self, ("optimization.epochs", "optimization.batch_size"))
        if self.checkpoint_every is not None and self.checkpoint_every <= 0:
            raise InputError(
                "optimization.checkpoint_every must be a positive number of steps."
            )
        return self


@dataclasses.dataclass
class DistributionConfig(ConfigBase):
    """Where and how the steps run (see `vlpk.distribution`)."""

    strategy: str = "default"
    # For strategy="mirrored": comma-separated devices ("/gpu:0,/gpu:1");
    # None uses every local GPU.
    devices: str | None = None
    precision: str = "float32"
    jit_compile: bool = False
    # Deterministic TensorFlow ops (`enable_op_determinism`, process-wide):
    # a resumed run then ends with bit-for-bit the weights of an
    # uninterrupted one, random masks and negatives included.
    deterministic: bool = False

    def validate(self):
        strategies = ("default", "mirrored", "multi_worker", "tpu")
        _check_choice(self, "distribution.strategy", strategies)
        precisions = ("float32", "mixed_bfloat16", "mixed_float16")
        _check_choice(self, "distribution.precision", precisions)
        return self
