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
    >>> import keras
    >>> from vlpk.models import ContrastivePreprocessor
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> images = keras.Input((64, 64, 3), name="images")
    >>> head = keras.layers.Dense(2, kernel_initializer="zeros",
    ...                           bias_initializer=keras.initializers.Constant([0, 1]))
    >>> task = keras.Model({"images": images},  # any logits over 2 classes
    ...     head(keras.layers.GlobalAveragePooling2D()(images)))
    >>> preprocessor = ContrastivePreprocessor(wordpiece_tokenizer(SPECIAL_TOKENS))
    >>> classify = classify_signature(task, preprocessor, ["cat", "dog"])
    >>> outputs = classify(tf.stack([tf.io.encode_png(tf.zeros((8, 8, 3), "uint8"))]))
    >>> outputs["class_name"].numpy(), outputs["probabilities"].numpy().round(2)
    (array([b'dog'], dtype=object), array([[0.27, 0.73]], dtype=float32))
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
