"""SavedModel export for TF Serving: raw image bytes and raw strings in.

Keras 3's `model.save` writes `.keras` files, not SavedModels, so the export is
built with `keras.export.ExportArchive`: each task's `serving_archive()`
(`vlpk.models.VisionLanguageTask`). The graph holds all preprocessing
(decoding with the pixel guard, resizing, tokenization), so a client sends
JPEG bytes and strings and nothing else. This module writes it as a TF
Serving version.
"""

import os

from vlpk.export.versioning import write_version_atomically


def export_saved_model(archive, export_root, name, version=None, overwrite=False):
    """Writes `archive` to `<export_root>/<name>/<version>/`, atomically.

    Args:
        archive: a `keras.export.ExportArchive`.
        export_root: the models folder TF Serving watches (`saved_models`).
        name: the model name.
        version: the integer version; the next free one when None.
        overwrite: replace an existing version.

    Returns:
        The path of the written version.

    Example:
    >>> import os, tempfile, numpy as np
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.models import (ContrastivePreprocessor,
    ...     ContrastivePretrainer, DualEncoderBackbone)
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> tokenizer = wordpiece_tokenizer(list(SPECIAL_TOKENS) + ["a", "red", "circle"])
    >>> backbone = DualEncoderBackbone(
    ...     ImageEncoder(small_cnn(16, widths=(4,)), output="pooled"),
    ...     bert_encoder(tokenizer.vocabulary_size(), num_layers=1, num_heads=2,
    ...                  hidden_dim=8, intermediate_dim=16, max_sequence_length=6),
    ...     embedding_dim=4)
    >>> preprocessor = ContrastivePreprocessor(tokenizer, ImagePreprocessor(16),
    ...                                        sequence_length=6)
    >>> task = ContrastivePretrainer(backbone, preprocessor)
    >>> root = tempfile.mkdtemp()
    >>> path = export_saved_model(task.serving_archive(),
    ...                           os.path.join(root, "saved_models"), "quickstart")
    >>> os.path.relpath(path, root)
    'saved_models/quickstart/1'
    >>> signature_names(path)
    ['embed_image', 'embed_text', 'score', 'serving_default']
    """
    model_dir = os.path.join(export_root, name)

    def write(path):
        archive.write_out(path, verbose=False)

    _, path = write_version_atomically(model_dir, write, version, overwrite)
    return path


def signature_names(path):
    """The sorted signature names of the SavedModel at `path`, read from its
    `saved_model.pb` as `saved_model_cli show` and TF Serving see them."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    return sorted(
        name for name in saved.meta_graphs[0].signature_def if not name.startswith("__")
    )
