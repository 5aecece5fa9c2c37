"""Experiment configs: small dataclasses, loadable from Python files.

A config only holds numbers and names; `vlpk.jobs.recipes` turns it into the same
public objects a user would build by hand. `PretrainConfig` is nested by part,
as big_vision's configs are: one block for each thing a recipe builds
(`image`, `text`, `fusion`, `decoder`), one for the data, one for the
optimization and one for the hardware. Experiment files under
`training/configs/` define a module-level `config` (and optionally a `smoke()`
function that shrinks it to run anywhere).
"""

import dataclasses
import importlib.util
import os

from vlpk.errors import InputError


class ConfigBase:
    """What every vlpk config dataclass shares: copies, `--set`, dicts.

    A field whose type is itself a `ConfigBase` dataclass is a *block*; its
    fields are addressed with dotted keys (`text.layers`).
    """

    def replace(self, **changes):
        """A copy with some fields changed (`None` values are ignored).

        A block takes a block, or a dict of the block's fields to change
        (applied as given, `None` included). Keyword arguments cannot hold a
        dot, so a block's field may also be named bare when no other block
        has a field of that name (`replace(epochs=3)`); `**{"text.layers": 4}`
        works too.

        Example:
        >>> config = PretrainConfig().replace(
        ...     text={"layers": 4}, epochs=3, **{"image.backbone": "vgg16"}
        ... )
        >>> config.text.layers, config.optimization.epochs, config.image.backbone
        (4, 3, 'vgg16')
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        blocks = _blocks(type(self))
        values, nested = {}, {}
        for key, value in changes.items():
            block, field = self._resolve(key)
            if block is not None:
                nested.setdefault(block, {})[field] = value
            elif field in blocks and isinstance(value, dict):
                nested.setdefault(field, {}).update(value)
            else:
                values[field] = value
        for block, fields in nested.items():
            current = values.get(block, getattr(self, block))
            for field in fields:
                _check_block_field(type(current), block, field)
            values[block] = dataclasses.replace(current, **fields)
        return dataclasses.replace(self, **values)

    def _resolve(self, key):
        """`(block, field)` of a `replace` key; `block` is None at the top."""
        fields = _field_names(type(self))
        block, dot, field = key.partition(".")
        if dot:
            return self._block_field(block, field)
        if key in fields:
            return None, key
        owners = _owners(type(self), key)
        if len(owners) == 1:
            return owners[0], key
        where = f" (in {', '.join(owners)}: use a dotted key)" if owners else ""
        raise InputError(
            f"Unknown config field {key!r}{where}. Keys: {', '.join(self.keys())}"
        )

    def _block_field(self, block, field):
        blocks = _blocks(type(self))
        if block not in blocks:
            raise InputError(
                f"{type(self).__name__} has no block {block!r}; its blocks are "
                f"{', '.join(blocks) or 'none'}."
            )
        _check_block_field(blocks[block], block, field)
        return block, field

    def override(self, assignments):
        """A copy with `key=value` strings applied (the CLI's `--set`).

        A block's field takes a dotted key (`text.layers=4`). Values are
        parsed by the field's type: ints, floats, `true`/`false`,
        comma-separated tuples of ints, `|`-separated tuples of strings,
        `name:weight,...` dicts, and `none` for a field that may be None (a
        string field that may not keeps the word: `image.normalization=none`).

        Example:
        >>> config = PretrainConfig().override(
        ...     ["optimization.epochs=3", "image.widths=16,32", "loss=siglip"]
        ... )
        >>> config.optimization.epochs, config.image.widths, config.loss
        (3, (16, 32), 'siglip')
        """
        config = self
        for assignment in assignments:
            key, sep, raw = assignment.partition("=")
            key = key.strip()
            if not sep:
                raise InputError(
                    f"--set expects key=value with a config field; got "
                    f"{assignment!r}. Keys: {', '.join(self.keys())}"
                )
            block, field = config._set_key(key)
            target = config if block is None else getattr(config, block)
            value = _parse(raw.strip(), target, field, key)
            if block is not None:
                value = dataclasses.replace(target, **{field: value})
                field = block
            config = dataclasses.replace(config, **{field: value})
        return config

    def _set_key(self, key):
        """`(block, field)` of a `--set` key: a block's fields need the dot."""
        block, dot, field = key.partition(".")
        if dot:
            return self._block_field(block, field)
        blocks = _blocks(type(self))
        if key in _field_names(type(self)) and key not in blocks:
            return None, key
        hint = ""
        if key in blocks:
            hint = f" {key} is a block: set one of its fields ({key}.FIELD)."
        owners = _owners(type(self), key)
        if owners:
            hint = f" Did you mean {' or '.join(f'{b}.{key}' for b in owners)}?"
        raise InputError(
            f"--set expects key=value with a config field; got {key!r}.{hint} "
            f"Keys: {', '.join(self.keys())}"
        )

    def keys(self):
        """The keys `--set` takes: top-level fields, then `block.field`s.

        Example:
        >>> keys = PretrainConfig().keys()
        >>> keys[:3], "fusion.kind" in keys
        (['name', 'seed', 'objectives'], True)
        """
        blocks = _blocks(type(self))
        top = [f for f in _field_names(type(self)) if f not in blocks]
        return top + [
            f"{b}.{f}" for b, cls in blocks.items() for f in _field_names(cls)
        ]

    def to_dict(self):
        """The config as plain (nested) dicts, e.g. for a run's `config.json`."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data, source="the config"):
        """The config of a `to_dict()` dict (e.g. a run's `config.json`).

        JSON turns tuples into lists; fields whose default is a tuple get
        tuples back. A block is read from its own dict.

        Example:
        >>> config = PretrainConfig().override(["text.layers=4"])
        >>> PretrainConfig.from_dict(config.to_dict()) == config
        True
        >>> PretrainConfig.from_dict({"text_layers": 4})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        vlpk.errors.InputError: the config has fields PretrainConfig does not know: ...
        """
        return cls._from_dict(data, source, prefix="")

    @classmethod
    def _from_dict(cls, data, source, prefix):
        if not isinstance(data, dict):
            raise InputError(
                f"{source}: {prefix[:-1]} should be a dict of {cls.__name__} "
                f"fields, got {data!r}."
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        blocks = _blocks(cls)
        unknown = set(data) - set(fields)
        if unknown:
            flat = blocks and not any(isinstance(data.get(b), dict) for b in blocks)
            hint = (
                f" It is flat: this version nests fields by block "
                f"({', '.join(blocks)}), e.g. text_layers is now text.layers. Run "
                "the job again with this version of vlpk."
            )
            raise InputError(
                f"{source} has fields {cls.__name__} does not know: "
                f"{sorted(prefix + k for k in unknown)}. Was it written by another "
                f"vlpk version?{hint if flat else ''}"
            )
        values = {}
        for key, value in data.items():
            if key in blocks:
                value = blocks[key]._from_dict(value, source, f"{prefix}{key}.")
            elif isinstance(fields[key].default, tuple) and isinstance(value, list):
                value = tuple(value)
            values[key] = value
        return cls(**values)


def _field_names(cls):
    return [f.name for f in dataclasses.fields(cls)]


def _owners(cls, field):
    """The blocks of `cls` that have a field called `field`."""
    return [b for b, block in _blocks(cls).items() if field in _field_names(block)]


def _check_block_field(cls, block, field):
    if field not in _field_names(cls):
        raise InputError(
            f"Unknown key {block}.{field}. Keys of {block}: "
            + ", ".join(f"{block}.{f}" for f in _field_names(cls))
        )


def _blocks(cls):
    """`{name: block class}` of a config class's nested blocks, in order."""
    return {
        f.name: f.type
        for f in dataclasses.fields(cls)
        if isinstance(f.type, type) and issubclass(f.type, ConfigBase)
    }


def _check_choice(block, key, allowed):
    value = getattr(block, key.rpartition(".")[2])
    if value not in allowed:
        raise InputError(f"Unknown {key} {value!r}; choose one of {allowed}.")


def _check_positive(block, keys):
    for key in keys:
        value = getattr(block, key.rpartition(".")[2])
        if value <= 0:
            raise InputError(f"{key} must be positive, got {value}.")


# Imported here so `vlpk.config` stays importable without TensorFlow; the
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
    """The data: generated Shapes, or COCO captions from disk."""

    # "shapes" (generated) or "coco" (captions JSON + image folders).
    name: str = "shapes"
    # Shapes: images per split.
    train_images: int = 2000
    val_images: int = 200
    test_images: int = 500
    # COCO: the captions JSON files and image folders.
    train_annotations: str | None = None
    train_image_dir: str | None = None
    val_annotations: str | None = None
    val_image_dir: str | None = None

    def validate(self):
        _check_choice(self, "data.name", ("shapes", "coco"))
        _check_positive(self, ("data.train_images", "data.val_images"))
        if self.name == "coco":
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


OBJECTIVES = ("contrastive", "matching", "masked_lm", "captioning")


@dataclasses.dataclass
class PretrainConfig(ConfigBase):
    """Pretraining of a vision-language model; the defaults are the quickstart's.

    The defaults train contrastively a small CNN and a 2-layer BERT on
    Shapes, in a few minutes on a 2-core CPU. Each block configures one part
    and goes to its own builder in `vlpk.jobs.recipes`. The top level keeps
    what ties the parts together: the run's name and seed, the objectives
    and their loss, and the shared embedding space the contrastive loss
    compares in; no single block owns those.

    Example:
    >>> config = PretrainConfig(image=ImageConfig(backbone="resnet50", size=32))
    >>> config.override(["text.layers=4"]).validate().text.layers
    4
    """

    name: str = "quickstart"
    seed: int = 0
    # Objectives and their loss weights: "contrastive" plus any of "matching",
    # "masked_lm" (ALBEF/BLIP) and "captioning" (CoCa).
    objectives: dict = dataclasses.field(default_factory=lambda: {"contrastive": 1.0})
    # Contrastive loss: "clip" (softmax InfoNCE) or "siglip" (pairwise sigmoid).
    loss: str = "clip"
    # The shared image-text embedding space.
    embedding_dim: int = 64
    initial_temperature: float = 0.07
    # Masked LM: the fraction of caption tokens masked.
    mlm_rate: float = 0.15
    # TensorBoard: validation images logged with their generated captions.
    tensorboard_samples: int = 8
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    image: ImageConfig = dataclasses.field(default_factory=ImageConfig)
    text: TextConfig = dataclasses.field(default_factory=TextConfig)
    fusion: FusionConfig = dataclasses.field(default_factory=FusionConfig)
    decoder: DecoderConfig = dataclasses.field(default_factory=DecoderConfig)
    optimization: OptimizationConfig = dataclasses.field(
        default_factory=OptimizationConfig
    )
    distribution: DistributionConfig = dataclasses.field(
        default_factory=DistributionConfig
    )

    def validate(self):
        """Fails early, before any work, on names vlpk does not know."""
        _check_choice(self, "loss", ("clip", "siglip"))
        for block in _blocks(type(self)):
            getattr(self, block).validate()
        unknown = set(self.objectives) - set(OBJECTIVES)
        if unknown or "contrastive" not in self.objectives:
            raise InputError(
                f"objectives must include 'contrastive' and come from "
                f"{OBJECTIVES}; got {sorted(self.objectives)}."
            )
        if any(w < 0 for w in self.objectives.values()):
            raise InputError(f"Objective weights must be >= 0: {self.objectives}.")
        if "masked_lm" in self.objectives and self.fusion.kind == "concat":
            raise InputError(
                "masked_lm needs token-level fusion: set fusion.kind=cross_attention."
            )
        return self

    def smoke(self):
        """A tiny version that runs end to end in seconds (for tests and CI).

        It keeps the experiment's architecture family and objectives but
        shrinks every size, trains on generated Shapes and uses no
        pretrained weights.
        """
        image, checkpoint = self.image, self.optimization.checkpoint_every
        # keras.applications models run at 32 pixels; the others at 64 or less.
        small = 32 if image.kind() == "applications" else 64
        return self.replace(
            tensorboard_samples=4,
            embedding_dim=16,
            data={
                "name": "shapes",
                "train_images": 24,
                "val_images": 8,
                "test_images": 8,
            },
            image={
                "weights": None,
                "size": min(image.size, small),
                "widths": (8, 16),
                "patch_size": 8,
                "layers": 1,
                "heads": 2,
                "hidden_dim": 16,
                "mlp_dim": 32,
            },
            text={
                "preset": None,
                "vocabulary_size": 120,
                "layers": 1,
                "heads": 2,
                "hidden_dim": 16,
                "intermediate_dim": 32,
            },
            fusion={"layers": 1, "heads": 2, "intermediate_dim": 32},
            decoder={"layers": 1, "heads": 2, "hidden_dim": 16, "intermediate_dim": 32},
            optimization={
                "batch_size": 8,
                "epochs": 1,
                "steps_per_epoch": 2,
                "checkpoint_every": 1 if checkpoint else None,
            },
        )


def _parse(raw, block, field, key):
    """The value of `--set key=raw` for `block.field`, by the field's type."""
    spec = {f.name: f for f in dataclasses.fields(block)}[field]
    kinds = getattr(spec.type, "__args__", (spec.type,))
    kind = next(k for k in kinds if k is not type(None))
    if raw.lower() == "none" and type(None) in kinds:
        return None
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1")
        if kind in (int, float):
            return kind(raw)
        if kind is tuple:
            default = spec.default if isinstance(spec.default, tuple) else ()
            if default and isinstance(default[0], str):
                # Strings may hold commas (prompt templates): "|" separates them.
                return tuple(v.strip() for v in raw.split("|") if v.strip())
            return tuple(int(v) for v in raw.split(",") if v)
        if kind is dict:
            pairs = (item.partition(":") for item in raw.split(",") if item)
            return {k.strip(): float(w) if w else 1.0 for k, _, w in pairs}
    except ValueError:
        raise InputError(f"--set {key}={raw}: expected a {kind.__name__}.") from None
    return raw


def load_config(path, smoke=False):
    """Loads `config` from an experiment file (and applies `smoke()` if asked).

    Args:
        path: a Python file defining a module-level `config`.
        smoke: shrink it with the file's `smoke(config)`, or with
            `config.smoke()` when the file defines none.
    """
    if not os.path.isfile(path):
        raise InputError(f"No config file at {path}.")
    spec = importlib.util.spec_from_file_location("vlpk_experiment_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "config"):
        raise InputError(f"{path} defines no module-level `config`.")
    config = module.config
    if smoke:
        config = module.smoke(config) if hasattr(module, "smoke") else config.smoke()
    return config
