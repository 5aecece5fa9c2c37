"""The serving signature every image classifier shares: bytes to classes."""

import tensorflow as tf

from vlpk.models.signatures import IMAGE_BYTES


def classify_signature(task, preprocessor, class_names, from_logits=True):
    """`classify`: `image_bytes` → `probabilities`, `class_id`, `class_name`.

    Decoding and resizing run inside the graph with the task's own
    preprocessor, so serving cannot disagree with training.

    Args:
        task: a model from `{"images"}` to logits `[B, num_classes]`, or to
            a dict holding them under `predictions`.
        preprocessor: a preprocessor with `preprocess_images`.
        class_names: the class names, in label order.
        from_logits: whether the task's outputs are logits (softmax gives
            the probabilities) or already probabilities.

    Returns:
        A `tf.function` with a fixed input signature, returning
        `probabilities` `[B, num_classes]`, `class_id` `[B]` (int32) and
        `class_name` `[B]` (the most probable class).

    Example:
    >>> classify = classify_signature(task, task.preprocessor, ["cat", "dog"])
    ... # doctest: +SKIP
    >>> classify(tf.constant([jpeg_bytes]))["class_name"]  # doctest: +SKIP
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'cat'], dtype=object)>
    """
    names = tf.constant([str(name) for name in class_names])

    @tf.function(input_signature=[IMAGE_BYTES])
    def classify(image_bytes):
        images = preprocessor.preprocess_images(image_bytes)
        outputs = task({"images": images}, training=False)
        if isinstance(outputs, dict):
            outputs = outputs["predictions"]
        class_id = tf.argmax(outputs, axis=-1, output_type=tf.int32)
        return {
            "probabilities": tf.nn.softmax(outputs) if from_logits else outputs,
            "class_id": class_id,
            "class_name": tf.gather(names, class_id),
        }

    return classify
