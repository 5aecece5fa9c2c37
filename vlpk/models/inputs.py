"""Named `keras.Input`s shared by every vlpk model."""

import keras


def image_input(image_encoder):
    """The `images` input, shaped like the image encoder's input."""
    shape = tuple(image_encoder.input_shape[1:]) if _has_input(image_encoder) else None
    if not shape or len(shape) != 3:
        shape = (None, None, 3)
    return keras.Input(shape=shape, dtype="float32", name="images")


def text_inputs(text_encoder=None, sequence_length=None):
    """The `token_ids` and `padding_mask` inputs (int32, `[batch, T]`)."""
    if (
        sequence_length is None
        and text_encoder is not None
        and _has_input(text_encoder)
    ):
        shapes = text_encoder.input_shape
        if isinstance(shapes, dict) and "token_ids" in shapes:
            sequence_length = shapes["token_ids"][1]
    return {
        "token_ids": keras.Input(
            shape=(sequence_length,), dtype="int32", name="token_ids"
        ),
        "padding_mask": keras.Input(
            shape=(sequence_length,), dtype="int32", name="padding_mask"
        ),
    }


def _has_input(model):
    try:
        model.input_shape
    except (AttributeError, ValueError):
        return False
    return True
