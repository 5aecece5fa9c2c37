"""What every vlpk task adds to KerasHub's `Task`: its own serving signatures."""

import keras
import keras_hub
from keras_hub.src.utils.preset_utils import (
    TASK_CONFIG_FILE,
    check_config_class,
    check_file_exists,
    get_preset_loader,
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
    >>> archive = task.serving_archive()  # doctest: +SKIP
    >>> vlpk.export.export_saved_model(archive, "saved_models", "clip")
    ... # doctest: +SKIP
    """

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """The task saved in `preset`, or a new `cls` on its backbone.

        As KerasHub's `Task.from_preset`, except that a saved `task.json`
        naming a subclass of `cls` loads as that class whatever its backbone:
        a vlpk task takes any dual-encoder backbone (vlpk's, or a KerasHub
        CLIP or SigLIP one), so a task class is not tied to one backbone
        class as KerasHub's are.
        """
        if check_file_exists(preset, TASK_CONFIG_FILE):
            saved = check_config_class(load_json(preset, TASK_CONFIG_FILE))
            if issubclass(saved, cls):
                loader = get_preset_loader(preset)
                return loader.load_task(saved, load_weights, True, **kwargs)
        return super().from_preset(preset, load_weights=load_weights, **kwargs)

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
