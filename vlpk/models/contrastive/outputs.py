"""The named outputs every dual-encoder backbone gives."""

import keras


def contrastive_outputs(image_embedding, text_embedding, logit_scale_layer):
    """`{"image_embedding", "text_embedding", "contrastive"}` of a backbone.

    `contrastive` packs both embeddings with the logit scale (and bias) for
    `vlpk.losses.ContrastiveLoss` / `SigmoidContrastiveLoss`; the identity
    layers give the outputs their names.
    """
    contrastive = logit_scale_layer({"image": image_embedding, "text": text_embedding})
    # The backbone's policy: under mixed precision the outputs stay in the
    # compute dtype, not cast back to float32 by a float32 identity.
    policy = logit_scale_layer.dtype_policy
    outputs = {
        "image_embedding": image_embedding,
        "text_embedding": text_embedding,
        "contrastive": contrastive,
    }
    return {
        name: keras.layers.Identity(dtype=policy, name=name)(x)
        for name, x in outputs.items()
    }


def dual_encoder_graph(backbone, images, text):
    """`(inputs, outputs)` of a dual-encoder backbone's functional model.

    Args:
        backbone: the backbone being built, with `get_image_embeddings`,
            `get_text_embeddings` and `logit_scale_layer`.
        images: the `images` input.
        text: the `{"token_ids", "padding_mask"}` inputs.
    """
    image_embedding = backbone.get_image_embeddings(images)
    text_embedding = backbone.get_text_embeddings(**text)
    outputs = contrastive_outputs(
        image_embedding, text_embedding, backbone.logit_scale_layer
    )
    return {"images": images, **text}, outputs
