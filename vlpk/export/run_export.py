"""`vlpk export`: a run folder's model as a versioned TF Serving SavedModel.

The signatures follow the model: a dual encoder or pretrainer serves
`embed_image`, `embed_text` and `score` (plus `caption` with a caption
decoder); a `Captioner` serves `caption`; a VQA model serves `answer`. The
graph takes raw image bytes and raw strings (see `vlpk.export`).
"""

import json
import os

from vlpk.errors import InputError
from vlpk.export.saved_model import dual_encoder_archive, export_saved_model
from vlpk.export.task_archives import (
    answer_archive,
    caption_archive,
    pretrainer_archive,
)
from vlpk.models import (
    Captioner,
    DualEncoder,
    FusionClassifier,
    VisionLanguagePretrainer,
)


def run_archive(run, model):
    """The `ExportArchive` that serves `model` of the run folder `run`."""
    if isinstance(model, VisionLanguagePretrainer):
        return pretrainer_archive(
            model, run.image_preprocessor, run.text_preprocessor, run.tokenizer
        )
    if isinstance(model, DualEncoder):
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
    from vlpk.tasks import load_run

    run = load_run(run_dir)
    archive = run_archive(run, run.load_model())
    path = export_saved_model(archive, export_root, name, version, overwrite)
    # Keras keeps no public list of an archive's endpoints.
    return path, sorted(getattr(archive, "_endpoint_names", []))
