"""`vlpk predict`: one image (and texts or a question) through a SavedModel.

It loads the export the way TF Serving does (`tf.saved_model.load` with the
TF Text ops registered), reads the image file, checks that it is an image,
calls the signatures asked for and returns a JSON-ready dict.
"""

import os

import tensorflow as tf

from vlpk.data.pipelines.image_preprocessor import SIGNATURES
from vlpk.errors import InputError


def read_image_file(path):
    """The bytes of an image file; `InputError` if missing or not an image."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise InputError(f"No image file at {path}.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not an image file.") from None
    if not any(data.startswith(signature) for signature in SIGNATURES):
        raise InputError(
            f"{path} is not a JPEG, PNG, GIF or BMP image (its first bytes are "
            f"{data[:8]!r})."
        )
    return data


def load_export(path):
    """`tf.saved_model.load(path)` with tf-text's ops registered."""
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise InputError(
            f"{path} is not a SavedModel version folder (no saved_model.pb); pass "
            "saved_models/<name>/<version>."
        )
    return tf.saved_model.load(path)


def predict(model_path, image, texts=(), question=None, caption=False, prompt=None):
    """Runs the export on one image file.

    Args:
        model_path: a version folder, `saved_models/<name>/<version>`.
        image: an image file.
        texts: texts to score against the image (`score` signature).
        question: a question to answer (`answer` signature).
        caption: generate a caption (`caption` signature).
        prompt: a prompt for a vision-language LM (`generate` signature).

    Returns:
        `{"image": path, ...}` with `scores` (one `{"text", "score"}` per
        text), `answer` and `answer_score`, `caption`, `prompt` and `text`
        (what the LM wrote); with none of them
        asked, a classifier's `class_name`, `class_id` and `probabilities`
        (its `classify` signature), else the `image_embedding`.

    Example:
    >>> import tempfile, keras
    >>> from vlpk.config import PretrainConfig
    >>> from vlpk.export import export_saved_model
    >>> from vlpk.jobs.recipes import build_dual_encoder
    >>> from vlpk.models import ContrastivePreprocessor, ImageClassifier
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> classifier = ImageClassifier(build_dual_encoder(PretrainConfig().smoke(), 5), 2,
    ...     ContrastivePreprocessor(wordpiece_tokenizer(SPECIAL_TOKENS), None, 20),
    ...     class_names=["cat", "dog"])
    >>> kernel = classifier.head.kernel  # a head that cannot choose: 50/50
    >>> _ = kernel.assign(keras.ops.zeros_like(kernel))
    >>> root = tempfile.mkdtemp()
    >>> image = os.path.join(root, "cat.png")
    >>> tf.io.write_file(image, tf.io.encode_png(tf.zeros((64, 64, 3), "uint8")))
    >>> # Not run here: the export takes about 2 s, and export_saved_model's
    >>> # example runs one (tests/export/test_saved_model.py runs `predict`).
    >>> path = export_saved_model(classifier.serving_archive(), root, "pets")
    ... # doctest: +SKIP
    >>> result = predict(path, image)  # no texts: a classifier's `classify`
    ... # doctest: +SKIP
    >>> result["class_name"], result["probabilities"]  # doctest: +SKIP
    ('cat', [0.5, 0.5])
    """
    data = read_image_file(image)
    loaded = load_export(model_path)
    signatures = loaded.signatures

    def signature(name):
        if name not in signatures:
            raise InputError(
                f"{model_path} has no {name!r} signature; it has {sorted(signatures)}."
            )
        return signatures[name]

    result = {"image": image}
    try:
        if texts:
            images = tf.constant([data] * len(texts))
            scores = signature("score")(image_bytes=images, text=tf.constant(texts))
            result["scores"] = [
                {"text": t, "score": float(s)}
                for t, s in zip(texts, scores["score"].numpy())
            ]
        if question is not None:
            out = signature("answer")(
                image_bytes=tf.constant([data]), question=tf.constant([question])
            )
            result["answer"] = out["answer"].numpy()[0].decode("utf-8")
            result["answer_score"] = float(out["score"].numpy()[0])
        if caption:
            out = signature("caption")(image_bytes=tf.constant([data]))
            result["caption"] = out["caption"].numpy()[0].decode("utf-8")
        if prompt is not None:
            out = signature("generate")(
                image_bytes=tf.constant([data]), prompt=tf.constant([prompt])
            )
            result["prompt"] = prompt
            result["text"] = out["text"].numpy()[0].decode("utf-8", "replace")
        if not (texts or question is not None or caption or prompt is not None):
            result.update(_image_only(signatures, signature, data))
    except tf.errors.InvalidArgumentError as error:
        # A header that passed the check but pixels that do not decode, or an
        # image over the pixel guard.
        detail = next(
            (
                line.strip()
                for line in error.message.splitlines()
                if line.strip()
                and not line.strip().startswith(
                    ("Graph execution", "Detected", "<", "[")
                )
            ),
            "",
        )
        raise InputError(
            f"{image} could not be decoded (a corrupt or truncated file, or more "
            f"pixels than the export allows): {detail}"
        ) from None
    return result


def _image_only(signatures, signature, data):
    """A classifier's classes, else the image embedding, of one image."""
    images = tf.constant([data])
    if "classify" in signatures:
        out = signature("classify")(image_bytes=images)
        return {
            "class_name": out["class_name"].numpy()[0].decode("utf-8"),
            "class_id": int(out["class_id"].numpy()[0]),
            "probabilities": out["probabilities"].numpy()[0].tolist(),
        }
    out = signature("embed_image")(image_bytes=images)
    return {"image_embedding": out["image_embedding"].numpy()[0].tolist()}
