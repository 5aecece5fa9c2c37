"""The course model: VGG16 image features ⊕ a text branch → softmax.

This is the seed design that vlpk's course teaches, corrected. The published
version concatenated VGG16's 4-D feature map `[B, 2, 2, 512]` with a 2-D text
embedding `[B, D]`, which `Concatenate` rejects. Here the VGG16 branch is
pooled (global average pooling → `[B, 512]`) and the text branch is a real
tokenized KerasHub BERT encoder pooled to `[B, D]`, so the concatenation is of
two vectors.
"""

from vlpk.encoders import bert_encoder, image_encoder_from_applications
from vlpk.layers.concat_fusion import ConcatFusion
from vlpk.models.fusion_classifier import FusionClassifier


def vgg16_concat_classifier(
    num_classes,
    vocabulary_size,
    image_size=64,
    sequence_length=16,
    weights=None,
    trainable_backbone=True,
    text_hidden_dim=64,
    text_layers=1,
    fusion_dims=(256,),
    dropout=0.2,
):
    """Builds the VGG16 + text + `Concatenate` + softmax classifier.

    Args:
        num_classes: the number of answers/classes.
        vocabulary_size: the tokenizer's vocabulary size.
        image_size: the input side length (VGG16 needs at least 32).
        sequence_length: the packed text length.
        weights: None (random) or "imagenet" / a path to VGG16 `notop` weights.
        trainable_backbone: train VGG16 too (False freezes it, the usual choice
            with ImageNet weights).
        text_hidden_dim: width of the text branch.
        text_layers: transformer layers in the text branch.
        fusion_dims: MLP widths after the concatenation.
        dropout: dropout after each MLP layer.

    Returns:
        A `FusionClassifier` with inputs `images`, `token_ids`, `padding_mask`
        and output `predictions` (softmax probabilities).

    Example:
    >>> model = vgg16_concat_classifier(num_classes=20, vocabulary_size=300)
    >>> model.compile("adam", loss={"predictions": "sparse_categorical_crossentropy"},
    ...               metrics={"predictions": ["accuracy"]})
    """
    image_encoder = image_encoder_from_applications(
        "vgg16",
        image_size=image_size,
        weights=weights,
        output="pooled",
        trainable=trainable_backbone,
    )
    text_encoder = bert_encoder(
        vocabulary_size=vocabulary_size,
        num_layers=text_layers,
        num_heads=2,
        hidden_dim=text_hidden_dim,
        intermediate_dim=2 * text_hidden_dim,
        max_sequence_length=sequence_length,
        dropout=0.1,
        pooling="pooler",
    )
    return FusionClassifier(
        image_encoder,
        text_encoder,
        ConcatFusion(hidden_dims=fusion_dims, dropout=dropout, name="concat_fusion"),
        num_classes=num_classes,
        activation="softmax",
        name="vgg16_concat_classifier",
    )
