"""`vlpk export`: a run folder's model as a versioned TF Serving SavedModel.

The signatures follow the model: a dual encoder or pretrainer serves
`embed_image`, `embed_text` and `score` (plus `caption` with a caption
decoder); a `Captioner` serves `caption`; a VQA model serves `answer`. The
graph takes raw image bytes and raw strings (see `vlpk.export`).
"""

import json
import os

from vlpk.errors import InputError
from vlpk.export.saved_model import (
    dual_encoder_archive,
    export_saved_model,
    signature_names,
)
from vlpk.export.task_archives import (
    answer_archive,
    caption_archive,
    pretrainer_archive,
)
from vlpk.jobs.run_dir import load_run
from vlpk.models import (
    Captioner,
    DualEncoderBackbone,
    FusionClassifier,
    VisionLanguagePretrainer,
)


def run_archive(run, model):
    """The `ExportArchive` that serves `model` of the run folder `run`."""
    if isinstance(model, VisionLanguagePretrainer):
        return pretrainer_archive(
            model, run.image_preprocessor, run.text_preprocessor, run.tokenizer
        )
    if isinstance(model, DualEncoderBackbone):
        return dual_encoder_archive(
            model, run.image_preprocessor, run.text_preprocessor
        )
    if isinstance(model, Captioner):
        return caption_archive(model, run.image_preprocessor, run.tokenizer)
    if isinstance(model, FusionClassifier):
        path = os.path.join(run.run_dir, "answers.json")
        if not os.path.isfile(path):
            raise InputError(
                f"{run.run_dir} has a classifier but no answers.json: export "
                "answers from a `vlpk finetune --task vqa` folder."
            )
        with open(path, encoding="utf-8") as f:
            answers = json.load(f)
        return answer_archive(
            model, answers, run.image_preprocessor, run.text_preprocessor
        )
    raise InputError(
        f"vlpk export has no serving signature for a {type(model).__name__} "
        "yet; export a pretraining, retrieval, captioning or VQA run."
    )


def export_run(
    run_dir, name, export_root="saved_models", version=None, overwrite=False
):
    """Exports `run_dir`'s `model.keras` to `<export_root>/<name>/<version>/`.

    Returns:
        `(path, signatures)`: the version folder and its signature names.

    Example:
    >>> export_run("runs/albef_vqa", "shapes_vqa")
    ('saved_models/shapes_vqa/1', ['answer', 'serving_default'])
    """
    run = load_run(run_dir)
    archive = run_archive(run, run.load_model())
    path = export_saved_model(archive, export_root, name, version, overwrite)
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
    model = run.load_model()
    if not hasattr(model, "image_embedder"):
        raise InputError(
            f"TFLite export covers the encoders of a pretraining or retrieval run; "
            f"{run_dir} holds a {type(model).__name__}."
        )
    train, val, _ = run.splits()
    path = os.path.join(export_root, "tflite", name, variant)
    vocab = os.path.join(run.run_dir, "vocab.txt")
    try:
        manifest = export_tflite(
            model,
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
