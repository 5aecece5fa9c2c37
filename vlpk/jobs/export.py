"""`vlpk export`: a task preset as a versioned TF Serving SavedModel, or its
encoders as TFLite.

The task declares its own signatures (`serving_signatures()`): a pretraining
or retrieval task serves `embed_image`, `embed_text` and `score` (plus
`caption` with a caption decoder), a captioner `caption`, a VQA task
`answer`, a classifier `classify`. Every graph takes raw image bytes and raw
strings (see `vlpk.export`).
"""

import os

from vlpk.errors import InputError
from vlpk.export.saved_model import export_saved_model, signature_names
from vlpk.jobs.run_dir import PRESET_DIR, load_run
from vlpk.models.presets import is_task_preset, load_task


def source_preset(source):
    """The task preset of `source`: a preset folder, a run folder's
    `preset/`, or a KerasHub preset name (for `load_task`)."""
    source = os.fspath(source)
    inner = os.path.join(source, PRESET_DIR)
    if not is_task_preset(source) and is_task_preset(inner):
        return inner
    return source


def export_task(
    source, name, export_root="saved_models", version=None, overwrite=False
):
    """Exports the task of `source` to `<export_root>/<name>/<version>/`.

    Args:
        source: a task preset folder, or a run folder holding one.

    Returns:
        `(path, signatures)`: the version folder and its signature names.

    Example:
    >>> import tempfile
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.models import (ContrastivePreprocessor, DualEncoderBackbone,
    ...                          ImageClassifier)
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> backbone = DualEncoderBackbone(ImageEncoder(small_cnn(8, widths=(4,))),
    ...     bert_encoder(5, num_layers=1, num_heads=1, hidden_dim=4, intermediate_dim=8,
    ...                  max_sequence_length=4))
    >>> preprocessor = ContrastivePreprocessor(wordpiece_tokenizer(SPECIAL_TOKENS),
    ...                                        ImagePreprocessor(8), 4)
    >>> root = tempfile.mkdtemp()  # a preset, or a run folder holding one in preset/
    >>> ImageClassifier(backbone, 2, preprocessor, class_names=["cat", "dog"]
    ...                 ).save_to_preset(os.path.join(root, "preset"))
    >>> # Not run here: the export takes about 2 s (export_saved_model's example
    >>> # runs one, tests/test_finetune.py runs `vlpk export`).
    >>> path, signatures = export_task(os.path.join(root, "preset"), "pets",
    ...     export_root=os.path.join(root, "saved_models"))  # doctest: +SKIP
    >>> os.path.relpath(path, root), signatures  # doctest: +SKIP
    ('saved_models/pets/1', ['classify', 'serving_default'])
    """
    task = load_task(source_preset(source))
    path = export_saved_model(
        task.serving_archive(), export_root, name, version, overwrite
    )
    return path, signature_names(path)


# The mean embedding cosine to Keras, on held-out examples, each variant
# should reach (`tflite.json` also records the smallest).
PARITY_TARGETS = {"float32": 0.9999, "float16": 0.999, "dynamic": 0.99, "int8": 0.99}


def export_run_tflite(
    run_dir, name, variant, export_root="saved_models", overwrite=False
):
    """Exports `run_dir`'s encoders as TFLite to
    `<export_root>/tflite/<name>/<variant>/` (outside the TF Serving tree).

    int8 is calibrated on the run's training split; every variant's parity
    with Keras is measured on its validation split and recorded in
    `tflite.json`.

    Returns:
        `(path, manifest, warning)`; `warning` is a message when the mean
        cosine misses `PARITY_TARGETS`, else None.
    """
    from vlpk.export.tflite import export_tflite

    run = load_run(run_dir)
    backbone = run.load_task().backbone
    if not hasattr(backbone, "get_text_embeddings"):
        raise InputError(
            f"TFLite export covers the encoders of a pretraining or retrieval run; "
            f"{run_dir} holds a {type(backbone).__name__}."
        )
    train, val, _ = run.splits()
    path = os.path.join(export_root, "tflite", name, variant)
    vocab = os.path.join(run.run_dir, "vocab.txt")
    try:
        manifest = export_tflite(
            backbone,
            path,
            variant,
            run.image_preprocessor,
            run.text_preprocessor,
            vocab if os.path.isfile(vocab) else None,
            calibration_examples=train,
            overwrite=overwrite,
            parity_examples=val,
        )
    except FileExistsError as error:
        raise InputError(str(error)) from None
    target = PARITY_TARGETS[variant]
    worst = min(
        manifest["parity"]["image_cosine_mean"], manifest["parity"]["text_cosine_mean"]
    )
    warning = None
    if worst < target:
        warning = (
            f"warning: the {variant} models reach a mean cosine of only {worst:.4f} "
            f"with Keras (target {target}); check them before shipping."
        )
    return path, manifest, warning
