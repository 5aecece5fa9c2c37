"""`VisionLMConfig`: LLaVA-style training of an image-prefix language model."""

import dataclasses

from vlpk.config.base import ConfigBase, _blocks, _check_choice, _check_positive
from vlpk.config.blocks import (
    DataConfig,
    DistributionConfig,
    ImageConfig,
    OptimizationConfig,
)
from vlpk.errors import InputError

FAMILIES = ("gpt2", "gemma", "llama", "mistral", "qwen", "qwen3")
STAGES = ("alignment", "instruct")
TUNINGS = ("full", "lora", "frozen")


@dataclasses.dataclass
class LanguageModelConfig(ConfigBase):
    """The causal LM (`vlpk.jobs.vision_lm_recipe.build_language_model`).

    `preset` is a KerasHub causal-LM preset: a name (`"gpt2_base_en"`), a
    handle, or a local folder written by `save_to_preset`; its tokenizer
    comes with it. With `preset=None`, a `family` LM is built from the sizes
    here, and a SentencePiece tokenizer of `vocabulary_size` pieces is
    learned on the training text (Shapes has no pretrained LM).

    `text_epochs`: with no preset, first train the LM alone on the stage's
    text for this many epochs and save it as a KerasHub preset
    (`<workdir>/llm_preset`): LLaVA's alignment needs a pretrained LM.

    `tuning` is how the LM trains: `"full"`, `"lora"` (`enable_lora(
    lora_rank)`: only the adapters train) or `"frozen"`.
    """

    preset: str | None = None
    family: str = "llama"
    layers: int = 2
    heads: int = 4
    key_value_heads: int = 2
    hidden_dim: int = 128
    intermediate_dim: int = 256
    vocabulary_size: int = 400
    sequence_length: int = 40
    tuning: str = "full"
    lora_rank: int = 8
    attention: str = "causal"
    sampler: str = "greedy"
    text_epochs: int = 0

    def validate(self):
        _check_choice(self, "family", FAMILIES)
        _check_choice(self, "tuning", TUNINGS)
        _check_choice(self, "attention", ("causal", "prefix"))
        _check_positive(
            self, ("layers", "heads", "hidden_dim", "sequence_length", "lora_rank")
        )
        return self


@dataclasses.dataclass
class ConnectorConfig(ConfigBase):
    """Image tokens into the LM's width: `linear`, `mlp` (LLaVA-1.5) or `resampler`.

    `queries` is the resampler's number of image tokens; `layers` its depth.
    """

    kind: str = "mlp"
    queries: int = 8
    layers: int = 1
    heads: int = 2

    def validate(self):
        _check_choice(self, "kind", ("linear", "mlp", "resampler"))
        _check_positive(self, ("queries", "layers", "heads"))
        return self


@dataclasses.dataclass
class VisionLMConfig(ConfigBase):
    """One stage of LLaVA-style training; the defaults train on Shapes.

    `data.train` (and `data.test`, by default the `test` folder beside it)
    name LLaVA conversation shards instead (`vlpk data convert --format
    llava`): alignment captions or instruction data, the stage's choice of
    what trains being the same. `evaluate_images` is then the number of
    test answers generated.

    - `stage="alignment"`: captions only ("Describe the image."), the LM
      frozen; the connector trains (and the image encoder, when
      `train_image_encoder`: Shapes' small CNN starts from random weights).
    - `stage="instruct"`: conversations (a caption turn, then every VQA
      question of the image), the connector and the LM (`llm.tuning`).

    `init_from` is an earlier stage's run folder (its `preset/`): the
    instruct stage starts from the aligned model. The run's test split is
    scored on generated VQA answers (official accuracy), generated captions
    (CIDEr) and POPE's three question files.

    Example:
    >>> config = VisionLMConfig().override(["llm.preset=/tmp/my_gpt2"])
    >>> config.llm.preset, config.validate().stage
    ('/tmp/my_gpt2', 'instruct')
    """

    name: str = "shapes_llava"
    seed: int = 0
    stage: str = "instruct"
    init_from: str | None = None
    train_image_encoder: bool = True
    evaluate_images: int = 200
    image: ImageConfig = dataclasses.field(default_factory=ImageConfig)
    llm: LanguageModelConfig = dataclasses.field(default_factory=LanguageModelConfig)
    connector: ConnectorConfig = dataclasses.field(default_factory=ConnectorConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optimization: OptimizationConfig = dataclasses.field(
        default_factory=lambda: OptimizationConfig(
            batch_size=32, epochs=4, learning_rate=1e-3, weight_decay=0.0
        )
    )
    distribution: DistributionConfig = dataclasses.field(
        default_factory=DistributionConfig
    )

    def validate(self):
        """Fails early, before any work, on names vlpk does not know."""
        _check_choice(self, "stage", STAGES)
        for block in _blocks(type(self)):
            getattr(self, block).validate()
        if self.data.name != "shapes" and not self.data.uses_shards:
            raise InputError(
                f"VisionLMConfig trains on Shapes or on conversation shards; "
                f"got data.name={self.data.name!r}. For your own "
                "conversations, convert them with `vlpk data convert --format "
                "llava` and pass --set data.train=FOLDER."
            )
        return self

    def smoke(self):
        """A tiny version that runs end to end in seconds (for tests and CI)."""
        return self.replace(
            evaluate_images=4,
            image={"size": 32, "widths": (8, 16)},
            llm={
                "layers": 1,
                "hidden_dim": 32,
                "intermediate_dim": 64,
                "text_epochs": min(self.llm.text_epochs, 1),
            }
            if self.llm.preset is None
            else {},
            data={"train_images": 24, "val_images": 8, "test_images": 8},
            optimization={"batch_size": 8, "epochs": 1, "steps_per_epoch": 2},
        )
