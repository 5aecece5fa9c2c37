"""Experiment configs: small dataclasses, loadable from Python files.

A config only holds numbers and names; `vlpk.recipes` turns it into the same
public objects a user would build by hand. Experiment files under
`training/configs/` define a module-level `config` (and optionally a `smoke()`
function that shrinks it to run anywhere).
"""

import dataclasses
import importlib.util
import os

from vlpk.errors import InputError


@dataclasses.dataclass
class PretrainConfig:
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
    # Objective: "clip" (softmax InfoNCE) or "siglip" (pairwise sigmoid).
    loss: str = "clip"
    # Distribution and speed switches (see vlpk.distribute).
    strategy: str = "default"
    precision: str = "float32"
    jit_compile: bool = False
    # Optimization.
    batch_size: int = 64
    epochs: int = 10
    steps_per_epoch: int | None = None
    learning_rate: float = 2e-3
    warmup_fraction: float = 0.05
    weight_decay: float = 1e-4

    def replace(self, **changes):
        """A copy with some fields changed (`None` values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise InputError(f"Unknown config fields: {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def validate(self):
        """Fails early, before any work, on names vlpk does not know."""
        choices = {
            "loss": ("clip", "siglip"),
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
        return self

    def override(self, assignments):
        """A copy with `key=value` strings applied (the CLI's `--set`).

        Values are parsed by the field's type: ints, floats, `true`/`false`,
        comma-separated tuples, `none`.

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

    def smoke(self):
        """A tiny version that runs end to end in seconds (for tests and CI)."""
        return self.replace(
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
        if isinstance(current, tuple):
            return tuple(int(v) for v in raw.split(",") if v)
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
