"""What every vlpk task adds to KerasHub's `Task`: its own serving signatures."""

import keras
import keras_hub
from keras_hub.src.utils.preset_utils import (
    PREPROCESSOR_CONFIG_FILE,
    TASK_CONFIG_FILE,
    check_config_class,
    check_file_exists,
    get_preset_loader,
    list_subclasses,
    load_json,
)

from vlpk.models.signatures import check_text_compatibility


class VisionLanguageTask(keras_hub.models.Task):
    """A KerasHub `Task` that knows how it is served.

    Each task declares its TF Serving signatures in `serving_signatures()`,
    so export asks the task and never tests its class. `serving_archive()`
    wraps them in a `keras.export.ExportArchive` that tracks the task's
    preprocessor and tokenizer: a tokenizer's lookup tables are resources,
    and a SavedModel whose functions use an untracked resource fails to save.

    Subclasses set `backbone_cls` and `preprocessor_cls`, as KerasHub's
    tasks do, and implement `serving_signatures()`.

    Example:
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> from vlpk.models import ContrastivePreprocessor, ContrastivePretrainer
    >>> from vlpk.jobs.recipes import build_dual_encoder
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.config import PretrainConfig
    >>> words = wordpiece_tokenizer(list(SPECIAL_TOKENS) + ["a", "blue", "square"])
    >>> task = ContrastivePretrainer(  # a smoke-size CNN and BERT: 64 px, 20 tokens
    ...     build_dual_encoder(PretrainConfig().smoke(), words.vocabulary_size()),
    ...     ContrastivePreprocessor(words, ImagePreprocessor(64), sequence_length=20))
    >>> sorted(task.serving_signatures())  # doctest: +ELLIPSIS
    [...'serving_default'...]

    `vlpk.export.export_saved_model(task.serving_archive(), "saved_models",
    "clip")` writes them as a SavedModel (see its example).
    """

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """The task saved in `preset`, or a new `cls` on its backbone.

        As KerasHub's `Task.from_preset`, except that a vlpk task is not
        tied to one backbone class as KerasHub's are: it takes any backbone
        with the parts it uses (its constructor checks them).

        - A saved `task.json` naming a subclass of `cls` loads as that class,
          whatever its backbone.
        - Otherwise a new `cls` (or its subclass bound to the preset's
          backbone class, as KerasHub picks it) is built on the preset's
          backbone (weights loaded) and preprocessor, remade as the task's
          `preprocessor_cls` when it is of another class, from
          the saved tokenizer, image converter and sequence length: for
          example a `VQAClassifier` on an ALBEF pretraining preset,
          `VQAClassifier.from_preset("runs/albef/preset", answers=answers)`.
          Other `kwargs` go to the constructor.
        """
        loader = get_preset_loader(preset)
        if check_file_exists(preset, TASK_CONFIG_FILE):
            saved = check_config_class(load_json(preset, TASK_CONFIG_FILE))
            if issubclass(saved, cls):
                return loader.load_task(saved, load_weights, True, **kwargs)
        backbone_cls = loader.check_backbone_class()
        # The class bound to this backbone class where there is one (`cls`,
        # or a subclass such as `KerasHubContrastivePretrainer`), as KerasHub
        # picks it; else `cls` itself.
        bound = [t for t in (cls, *list_subclasses(cls)) if t.backbone_cls]
        task_cls = next((t for t in bound if t.backbone_cls is backbone_cls), cls)
        backbone_kwargs, kwargs = loader.get_backbone_kwargs(**kwargs)
        if "backbone" not in kwargs:
            kwargs["backbone"] = loader.load_backbone(
                backbone_cls, load_weights, **backbone_kwargs
            )
        if "preprocessor" not in kwargs:
            kwargs["preprocessor"] = _preprocessor_for(task_cls, loader, preset)
        return task_cls(**kwargs)

    def serving_signatures(self):
        """`{name: tf.function}`: the functions a SavedModel of this task serves.

        Each takes raw inputs (image bytes, strings) with a fixed input
        signature and returns a dict of named tensors; `serving_default` is
        one of them.
        """
        raise NotImplementedError(
            f"{type(self).__name__} declares no serving signatures yet."
        )

    def serving_archive(self):
        """A `keras.export.ExportArchive` with `serving_signatures()`.

        Raises:
            ValueError: the task has no preprocessor (the signatures take raw
                image bytes and strings), or its tokenizer does not fit its
                text encoder.
        """
        if self.preprocessor is None:
            raise ValueError(
                f"Serving a {type(self).__name__} needs its preprocessor: the "
                "signatures take raw image bytes and strings. Build the task "
                "with one, or load it with `from_preset`."
            )
        text_encoder = getattr(self.backbone, "text_encoder", None)
        check_text_compatibility(text_encoder, self.preprocessor)
        archive = keras.export.ExportArchive()
        for layer in (self.preprocessor.tokenizer, self.preprocessor, self):
            if not layer.built:
                layer.build(None)  # a preprocessing layer has no weights
            archive.track(layer)
        for name, function in self.serving_signatures().items():
            archive.add_endpoint(name, function)
        return archive


def _preprocessor_for(cls, loader, preset):
    """The preset's preprocessor as a `cls.preprocessor_cls`, or None.

    One saved for another task of the family (a `VisionLanguagePreprocessor`
    for a `VQAClassifier`) is remade from its tokenizer, image converter and
    sequence length, which are what every vlpk preprocessor shares.
    """
    target = cls.preprocessor_cls
    if target is None or not check_file_exists(preset, PREPROCESSOR_CONFIG_FILE):
        return None
    saved = loader.load_preprocessor(keras_hub.models.Preprocessor)
    # Exactly: a subclass makes other targets (a `VisionLanguagePreprocessor`
    # is a `ContrastivePreprocessor` that refuses images alone).
    if type(saved) is target:
        return saved
    parts = ("tokenizer", "image_converter", "sequence_length")
    if not all(hasattr(saved, name) for name in parts):
        raise ValueError(
            f"{preset} holds a {type(saved).__name__}, which a "
            f"{target.__name__} cannot be made from: pass `preprocessor=`."
        )
    return target(saved.tokenizer, saved.image_converter, saved.sequence_length)
