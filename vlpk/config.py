"""Experiment configs: small dataclasses, loadable from Python files.

A config only holds numbers and names; `vlpk.jobs.recipes` turns it into the same
public objects a user would build by hand. Experiment files under
`training/configs/` define a module-level `config` (and optionally a `smoke()`
function that shrinks it to run anywhere).
"""

import dataclasses
import importlib.util
import os

from vlpk.errors import InputError


class ConfigBase:
    """What every vlpk config dataclass shares: copies, `--set`, dicts."""

    def replace(self, **changes):
        """A copy with some fields changed (`None` values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise InputError(f"Unknown config fields: {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def override(self, assignments):
        """A copy with `key=value` strings applied (the CLI's `--set`).

        Values are parsed by the field's type: ints, floats, `true`/`false`,
        comma-separated tuples of ints, `|`-separated tuples of strings,
        `name:weight,...` dicts, `none`.

        Example:
        >>> PretrainConfig().override(["epochs=3", "image_widths=16,32"]).epochs
        3
        """
        changes = {}
        fields = {f.name: f for f in dataclasses.fields(self)}
        for assignment in assignments:
            key, sep, raw = assignment.partition("=")
            key = key.strip()
            if not sep or key not in fields:
                raise InputError(
                    f"--set expects key=value with a config field; got {assignment!r}. "
                    f"Fields: {sorted(fields)}"
                )
            changes[key] = _parse(raw.strip(), getattr(self, key), key)
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data, source="the config"):
        """The config of a `to_dict()` dict (e.g. a run's `config.json`).

        JSON turns tuples into lists; fields whose default is a tuple get
        tuples back.
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(data) - set(fields)
        if unknown:
            raise InputError(
                f"{source} has fields {cls.__name__} does not know: "
                f"{sorted(unknown)}. Was it written by another vlpk version?"
            )
        values = {}
        for key, value in data.items():
            if isinstance(fields[key].default, tuple) and isinstance(value, list):
                value = tuple(value)
            values[key] = value
        return cls(**values)


@dataclasses.dataclass
class PretrainConfig(ConfigBase):
    """Contrastive pretraining of a dual encoder on Shapes (the quickstart).

    The defaults are the quickstart's: a small CNN and a 2-layer BERT that
    train in a few minutes on a 2-core CPU.
    """

    name: str = "quickstart"
    seed: int = 0
    # Data (Shapes).
    image_size: int = 64
    train_images: int = 2000
    val_images: int = 200
    test_images: int = 500
    # Text.
    vocabulary_size: int = 400
    sequence_length: int = 20
    # Image encoder: a small CNN (the "user's own model" path).
    image_widths: tuple = (32, 64, 128)
    # Text encoder: KerasHub BERT built from this config.
    text_layers: int = 2
    text_heads: int = 2
    text_hidden_dim: int = 64
    text_intermediate_dim: int = 128
    text_dropout: float = 0.0
    # Dual encoder.
    embedding_dim: int = 64
    initial_temperature: float = 0.07
    # Contrastive loss: "clip" (softmax InfoNCE) or "siglip" (pairwise sigmoid).
    loss: str = "clip"
    # Objectives and their loss weights: "contrastive" plus any of "matching",
    # "masked_lm" (ALBEF/BLIP) and "captioning" (CoCa).
    objectives: dict = dataclasses.field(default_factory=lambda: {"contrastive": 1.0})
    # Image backbone: "small_cnn" (widths above), "vgg16" (keras.applications)
    # or "vit" (KerasHub ViTBackbone, sized by the vit_* fields).
    image_backbone: str = "small_cnn"
    # None (random init), "imagenet", or a local weights file / preset folder.
    image_weights: str | None = None
    vit_patch_size: int = 16
    vit_layers: int = 12
    vit_heads: int = 12
    vit_hidden_dim: int = 768
    vit_mlp_dim: int = 3072
    # A local KerasHub text preset (e.g. bert_base_en) instead of a BERT
    # built from the text_* fields and a learned vocabulary.
    text_preset: str | None = None
    # Fusion encoder (matching, masked LM): "cross_attention" or "concat".
    fusion: str = "cross_attention"
    fusion_layers: int = 2
    fusion_heads: int = 2
    fusion_intermediate_dim: int = 128
    mlm_rate: float = 0.15
    # Caption decoder (captioning).
    decoder_layers: int = 2
    decoder_heads: int = 2
    decoder_hidden_dim: int = 64
    decoder_intermediate_dim: int = 128
    caption_sampler: str = "greedy"
    # Data: "shapes" (generated) or "coco" (captions JSON + image folders).
    dataset: str = "shapes"
    coco_train_annotations: str | None = None
    coco_train_images: str | None = None
    coco_val_annotations: str | None = None
    coco_val_images: str | None = None
    # Distribution and speed switches (see vlpk.distribution).
    strategy: str = "default"
    # For strategy="mirrored": comma-separated devices ("/gpu:0,/gpu:1");
    # None uses every local GPU.
    devices: str | None = None
    precision: str = "float32"
    jit_compile: bool = False
    # Optimization.
    batch_size: int = 64
    epochs: int = 10
    steps_per_epoch: int | None = None
    learning_rate: float = 2e-3
    warmup_fraction: float = 0.05
    weight_decay: float = 1e-4
    # Fault tolerance: checkpoint every N steps and resume from there after a
    # crash, at the same batch (None: plain epochs, no mid-run checkpoints).
    checkpoint_every: int | None = None
    # Deterministic TensorFlow ops (`enable_op_determinism`, process-wide):
    # a resumed run then ends with bit-for-bit the weights of an
    # uninterrupted one, random masks and negatives included.
    deterministic: bool = False
    # TensorBoard: validation images logged with their generated captions.
    tensorboard_samples: int = 8

    def validate(self):
        """Fails early, before any work, on names vlpk does not know."""
        choices = {
            "loss": ("clip", "siglip"),
            "image_backbone": ("small_cnn", "vgg16", "vit"),
            "fusion": ("cross_attention", "concat"),
            "caption_sampler": ("greedy", "beam", "top_k"),
            "dataset": ("shapes", "coco"),
            "strategy": ("default", "mirrored", "multi_worker", "tpu"),
            "precision": ("float32", "mixed_bfloat16", "mixed_float16"),
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise InputError(
                    f"Unknown {key} {getattr(self, key)!r}; choose one of {allowed}."
                )
        for key in ("epochs", "batch_size", "train_images", "val_images"):
            if getattr(self, key) <= 0:
                raise InputError(f"{key} must be positive, got {getattr(self, key)}.")
        known = ("contrastive", "matching", "masked_lm", "captioning")
        unknown = set(self.objectives) - set(known)
        if unknown or "contrastive" not in self.objectives:
            raise InputError(
                f"objectives must include 'contrastive' and come from {known}; "
                f"got {sorted(self.objectives)}."
            )
        if any(w < 0 for w in self.objectives.values()):
            raise InputError(f"Objective weights must be >= 0: {self.objectives}.")
        if "masked_lm" in self.objectives and self.fusion == "concat":
            raise InputError(
                "masked_lm needs token-level fusion: set fusion=cross_attention."
            )
        if self.checkpoint_every is not None and self.checkpoint_every <= 0:
            raise InputError("checkpoint_every must be a positive number of steps.")
        if self.dataset == "coco":
            for key in (
                "coco_train_annotations",
                "coco_train_images",
                "coco_val_annotations",
                "coco_val_images",
            ):
                if not getattr(self, key):
                    raise InputError(
                        f"dataset=coco needs {key}: pass it with --set {key}=PATH."
                    )
        return self

    def smoke(self):
        """A tiny version that runs end to end in seconds (for tests and CI).

        It keeps the experiment's architecture family and objectives but
        shrinks every size, trains on generated Shapes and uses no
        pretrained weights.
        """
        return dataclasses.replace(
            self,
            dataset="shapes",
            image_weights=None,
            text_preset=None,
            image_size=min(
                self.image_size, 32 if self.image_backbone == "vgg16" else 64
            ),
            vit_patch_size=8,
            vit_layers=1,
            vit_heads=2,
            vit_hidden_dim=16,
            vit_mlp_dim=32,
            text_heads=2,
            fusion_layers=1,
            fusion_heads=2,
            fusion_intermediate_dim=32,
            decoder_heads=2,
            decoder_layers=1,
            decoder_hidden_dim=16,
            decoder_intermediate_dim=32,
            tensorboard_samples=4,
            checkpoint_every=1 if self.checkpoint_every else None,
            train_images=24,
            val_images=8,
            test_images=8,
            vocabulary_size=120,
            image_widths=(8, 16),
            text_layers=1,
            text_hidden_dim=16,
            text_intermediate_dim=32,
            embedding_dim=16,
            batch_size=8,
            epochs=1,
            steps_per_epoch=2,
        )


def _parse(raw, current, key):
    if raw.lower() == "none":
        return None
    try:
        if isinstance(current, bool):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1")
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, tuple) and current and isinstance(current[0], str):
            # Strings may hold commas (prompt templates): "|" separates them.
            return tuple(v.strip() for v in raw.split("|") if v.strip())
        if isinstance(current, tuple):
            return tuple(int(v) for v in raw.split(",") if v)
        if isinstance(current, dict):
            pairs = (item.partition(":") for item in raw.split(",") if item)
            return {k.strip(): float(w) if w else 1.0 for k, _, w in pairs}
        if current is None:
            # Optional fields: a number when it reads as one, else a path/name.
            for kind in (int, float):
                try:
                    return kind(raw)
                except ValueError:
                    pass
    except ValueError:
        raise InputError(
            f"--set {key}={raw}: expected a {type(current).__name__}."
        ) from None
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
