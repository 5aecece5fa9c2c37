"""`PretrainConfig`: the nested config of `vlpk pretrain` and the quickstart."""

import dataclasses

from vlpk.config.base import ConfigBase, _blocks, _check_choice
from vlpk.config.blocks import (
    DataConfig,
    DecoderConfig,
    DistributionConfig,
    FusionConfig,
    ImageConfig,
    OptimizationConfig,
    TextConfig,
)
from vlpk.errors import InputError

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
        shrinks every size, trains on generated Shapes (or on the shards of
        `data.train`, when set) and uses no pretrained weights.
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
