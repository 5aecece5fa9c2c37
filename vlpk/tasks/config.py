"""`FinetuneConfig`: how `vlpk finetune` adapts a pretrained run to a task.

The architecture, vocabulary and data come from the pretraining run folder
(`--from RUN_DIR`); this config holds only what the fine-tuning adds.
Experiment files under `training/configs/finetune_*.py` define one.
"""

import dataclasses

from vlpk.config import ConfigBase
from vlpk.errors import InputError
from vlpk.tasks.zero_shot import TEMPLATES

TASKS = ("retrieval", "classify", "vqa", "caption")


@dataclasses.dataclass
class TaskDataConfig(ConfigBase):
    """The task's own data: split folders of `vlpk data convert`.

    Unset, a task reads the pretraining run's data. `val` and `test`
    default to the `val` and `test` folders beside `train`.
    """

    train: str | None = None
    val: str | None = None
    test: str | None = None

    @property
    def uses_shards(self):
        return bool(self.train)

    def validate(self):
        if not self.train and (self.val or self.test):
            raise InputError(
                "data.val and data.test are read with data.train: set "
                "data.train=PATH too."
            )
        return self


@dataclasses.dataclass
class FinetuneConfig(ConfigBase):
    """Fine-tuning hyper-parameters, shared by the four tasks.

    Example:
    >>> FinetuneConfig(task="vqa").override(["epochs=2"]).epochs
    2
    """

    name: str = "finetune"
    task: str = "retrieval"
    seed: int = 0
    # Optimization (AdamW, linear warm-up then cosine decay).
    epochs: int = 5
    steps_per_epoch: int | None = None
    batch_size: int = 64
    learning_rate: float = 5e-4
    warmup_fraction: float = 0.1
    weight_decay: float = 1e-4
    # retrieval: contrastive (+ matching) fine-tuning; evaluation re-ranks
    # each query's top `rerank_k` with the matching head (0: off).
    rerank_k: int = 16
    # classify: a linear probe (frozen encoder) instead of full fine-tuning;
    # the evaluation also reports zero-shot accuracy with these templates.
    linear_probe: bool = False
    templates: tuple = TEMPLATES
    # vqa: the answer vocabulary (most frequent answers of the train split).
    top_answers: int = 3129
    head_dropout: float = 0.1
    # VQA v2 files, for a run whose data is not Shapes (None: Shapes' VQA).
    vqa_train_questions: str | None = None
    vqa_train_annotations: str | None = None
    vqa_train_images: str | None = None
    vqa_test_questions: str | None = None
    vqa_test_annotations: str | None = None
    vqa_test_images: str | None = None
    # caption: the test-time sampler ("greedy" or "beam") and BLEU monitoring.
    caption_sampler: str = "greedy"
    num_beams: int = 3
    bleu_every: int = 1
    # The task's own shards (`--set data.train=shards/pets/train`); unset,
    # the pretraining run's data.
    data: TaskDataConfig = dataclasses.field(default_factory=TaskDataConfig)

    def validate(self):
        """Fails early on names and values vlpk does not know."""
        self.data.validate()
        if self.task not in TASKS:
            raise InputError(f"Unknown task {self.task!r}; choose one of {TASKS}.")
        if self.caption_sampler not in ("greedy", "beam"):
            raise InputError(
                f"caption_sampler must be 'greedy' or 'beam', got "
                f"{self.caption_sampler!r}."
            )
        for key in ("epochs", "batch_size", "top_answers", "num_beams", "bleu_every"):
            if getattr(self, key) <= 0:
                raise InputError(f"{key} must be positive, got {getattr(self, key)}.")
        if self.steps_per_epoch is not None and self.steps_per_epoch <= 0:
            raise InputError("steps_per_epoch must be positive.")
        if self.rerank_k < 0:
            raise InputError(f"rerank_k must be >= 0, got {self.rerank_k}.")
        if any(t.count("{}") != 1 for t in self.templates) or not self.templates:
            raise InputError(
                "Each template needs exactly one '{}' for the class name; got "
                f"{self.templates}."
            )
        return self

    def smoke(self):
        """A tiny version that runs in seconds (tests, CI)."""
        return dataclasses.replace(
            self, epochs=1, steps_per_epoch=2, batch_size=8, rerank_k=4, bleu_every=1
        )
