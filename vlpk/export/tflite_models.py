"""The Keras models a TFLite export converts, cut from a backbone's methods.

TFLite converts functions of fixed inputs; these small functional models
share the backbone's weights and take its named inputs. Every vlpk backbone
has `get_image_features`, `get_text_features` and the `image_projection` /
`text_projection` heads; one with a matching head (`VisionLanguageBackbone`
with fusion) also has `get_image_tokens`, `get_text_tokens` and `match`.
"""

import keras


def _inputs(backbone):
    images = keras.Input(backbone.input["images"].shape[1:], name="images")
    length = backbone.input["token_ids"].shape[1:]
    text = {
        name: keras.Input(length, dtype="int32", name=name)
        for name in ("token_ids", "padding_mask")
    }
    return images, text


def embedding_models(backbone, normalized=True):
    """`(image_model, text_model)`: images, and `{token_ids, padding_mask}`,
    to embeddings.

    With `normalized=False` the final L2 normalization is left out (for int8
    TFLite, where the host normalizes: cosines are unchanged).
    """
    images, text = _inputs(backbone)
    image = backbone.get_image_features(images)
    text_features = backbone.get_text_features(**text)
    if normalized:
        image = backbone.image_projection(image)
        text_features = backbone.text_projection(text_features)
    else:
        image = backbone.image_projection.project(image)
        text_features = backbone.text_projection.project(text_features)
    return (
        keras.Model(images, image, name="image_embedder"),
        keras.Model(text, text_features, name="text_embedder"),
    )


def matching_models(backbone):
    """`(image_model, text_model, scorer)` for re-ranking on device.

    The feature models give what `backbone.match` reads (tokens for a
    token-level fusion layer, pooled features for `ConcatFusion`); `scorer`
    takes `image_tokens`, `text_tokens` and (token-level) `padding_mask`
    and gives the matching logit.
    """
    images, text = _inputs(backbone)
    kind = "tokens" if backbone.fuses_tokens else "features"
    image = getattr(backbone, f"get_image_{kind}")(images)
    text_out = getattr(backbone, f"get_text_{kind}")(**text)
    scorer_inputs = {
        "image_tokens": keras.Input(image.shape[1:], name="image_tokens"),
        "text_tokens": keras.Input(text_out.shape[1:], name="text_tokens"),
    }
    mask = None
    if backbone.fuses_tokens:
        mask = keras.Input(
            text["padding_mask"].shape[1:], dtype="int32", name="padding_mask"
        )
        scorer_inputs["padding_mask"] = mask
    logits = backbone.match(
        scorer_inputs["image_tokens"], scorer_inputs["text_tokens"], mask
    )
    return (
        keras.Model(images, image, name="matching_image_features"),
        keras.Model(text, text_out, name="matching_text_features"),
        keras.Model(scorer_inputs, logits, name="matching_scorer"),
    )
