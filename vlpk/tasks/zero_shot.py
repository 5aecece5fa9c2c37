"""Zero-shot classification: class names become prompts, prompts embeddings.

As in CLIP, each class name fills every template ("a photo of a {}."), the
prompts are embedded by the text tower, L2-normalized and averaged into one
class embedding (template ensembling), which is normalized again. An image
is assigned the class whose embedding is most similar to its own.
"""

import numpy as np

from vlpk.data.pipelines.pipeline import image_dataset, text_dataset
from vlpk.evaluation import embedders, predict_batches
from vlpk.models.classification.zero_shot_image_classifier import DEFAULT_TEMPLATES

# CLIP's prompt ensemble, as the classifier task uses it.
TEMPLATES = DEFAULT_TEMPLATES


def _normalize(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def class_embeddings(model, class_names, text_preprocessor, templates=TEMPLATES):
    """One L2-normalized embedding per class, ensembled over `templates`.

    Args:
        model: a task or backbone with text embeddings (see
            `vlpk.evaluation.embedders`).
        class_names: the class names, in label order.
        text_preprocessor: the model's `TextPreprocessor`.
        templates: format strings with one `{}` for the class name.

    Returns:
        A float32 `[num_classes, D]` array.

    Example:
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.models import DualEncoderBackbone
    >>> from vlpk.text import TextPreprocessor, wordpiece_tokenizer
    >>> model = DualEncoderBackbone(
    ...     ImageEncoder(small_cnn(32, widths=(8,)), output="pooled"),
    ...     bert_encoder(30, num_layers=1, num_heads=2, hidden_dim=8,
    ...                  intermediate_dim=16, max_sequence_length=6),
    ...     embedding_dim=4)
    >>> tokenizer = wordpiece_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]",
    ...                                  "[MASK]", "circle", "square"])
    >>> text_pre = TextPreprocessor(tokenizer, sequence_length=6)
    >>> class_embeddings(model, ["circle", "square"], text_pre).shape
    (2, 4)
    """
    templates = tuple(templates)
    if not templates or any(t.count("{}") != 1 for t in templates):
        raise ValueError(
            f"Each template needs exactly one '{{}}' for the class name; got "
            f"{templates}."
        )
    if not class_names:
        raise ValueError("No class names.")
    prompts = [t.format(name) for name in class_names for t in templates]
    embedded = predict_batches(
        embedders(model)[1], text_dataset(prompts, text_preprocessor)
    )
    per_class = _normalize(embedded).reshape(len(class_names), len(templates), -1)
    return _normalize(per_class.mean(axis=1)).astype("float32")


def top_k_accuracy(scores, labels, ks=(1, 5)):
    """Top-k accuracy (percent) for each `k` no larger than the class count.

    A `k` larger than the number of classes is left out: every label would
    be in the top k.

    Example:
    >>> top_k_accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), [1, 1], ks=(1,))
    {'top1': 50.0}
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    # Rank of the true class: how many classes score strictly higher.
    true = scores[np.arange(len(labels)), labels][:, None]
    rank = (scores > true).sum(axis=1)
    return {
        f"top{k}": float(100.0 * np.mean(rank < k)) for k in ks if k <= scores.shape[1]
    }


def zero_shot_classification(
    model,
    examples,
    class_names,
    image_preprocessor,
    text_preprocessor,
    templates=TEMPLATES,
    ks=(1, 5),
):
    """Zero-shot top-k accuracy of `model` on labelled `examples`.

    Args:
        model: a task or backbone with image and text embeddings.
        examples: `Example`s with `image_path` and an integer `label`.
        class_names: the class names, indexed by label.
        image_preprocessor: an `ImagePreprocessor`.
        text_preprocessor: a `TextPreprocessor`.
        templates: prompt templates (see `TEMPLATES`).
        ks: the k of top-k accuracy (those above the class count are left
            out).

    Returns:
        A dict with `top1` (and `top5` when there are at least 5 classes) in
        percent, `classes`, `images`, `templates`, and `per_class` top-1
        accuracy.

    Example:
    >>> import keras, tempfile
    >>> from vlpk.config import PretrainConfig
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.data.synthetic import CLASS_NAMES, read_shapes, write_shapes
    >>> from vlpk.jobs.recipes import build_dual_encoder
    >>> from vlpk.text import SPECIAL_TOKENS, TextPreprocessor, wordpiece_tokenizer
    >>> keras.utils.set_random_seed(0)
    >>> root = tempfile.mkdtemp()  # Shapes: each image labelled by its largest shape
    >>> _ = write_shapes(root, image_size=24, splits={"test": 6}, progress=False)
    >>> tokenizer = wordpiece_tokenizer([*SPECIAL_TOKENS, *CLASS_NAMES])
    >>> model = build_dual_encoder(PretrainConfig().smoke(), 9)  # untrained
    >>> result = zero_shot_classification(model, read_shapes(root, "test"),
    ...     CLASS_NAMES, ImagePreprocessor(64), TextPreprocessor(tokenizer, 10))
    >>> result["top1"], result["classes"], result["images"], result["templates"]
    (0.0, 4, 6, 6)
    """
    labels = np.array([e.label for e in examples])
    if any(label is None for label in labels):
        raise ValueError("Zero-shot classification needs labelled examples.")
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() >= len(class_names):
        raise ValueError(f"Labels fall outside the {len(class_names)} class names.")
    classes = class_embeddings(model, class_names, text_preprocessor, templates)
    images = predict_batches(
        embedders(model)[0], image_dataset(examples, image_preprocessor)
    )
    scores = _normalize(images) @ classes.T
    result = classification_summary(scores, labels, class_names, ks)
    result["templates"] = len(tuple(templates))
    return result


def classification_summary(scores, labels, class_names, ks=(1, 5)):
    """Top-k accuracy, per-class top-1 (percent) and counts, from class scores.

    Args:
        scores: `[N, num_classes]` scores or logits.
        labels: `[N]` integer labels.
        class_names: the class names, indexed by label.
        ks: the k of top-k accuracy.

    Example:
    >>> classification_summary(np.array([[0.9, 0.1], [0.8, 0.2]]), [0, 1],
    ...                        ["a", "b"], ks=(1,))
    {'top1': 50.0, 'per_class': {'a': 100.0, 'b': 0.0}, 'classes': 2, 'images': 2}
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    result = top_k_accuracy(scores, labels, ks)
    predicted = scores.argmax(axis=1)
    result["per_class"] = {
        name: float(100.0 * np.mean(predicted[labels == i] == i))
        for i, name in enumerate(class_names)
        if np.any(labels == i)
    }
    result.update(classes=len(class_names), images=len(labels))
    return result
