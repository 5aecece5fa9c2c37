"""The course's VGG16 + BERT with concatenation fusion, pretrained on COCO.

VGG16 (keras.applications, ImageNet weights) and a BERT text encoder are
trained with image-text contrastive plus image-text matching, where the
matching head reads the concatenation of the pooled image and text vectors:
the corrected version of the course's `Concatenate` model, now with a
pretraining objective. Needs COCO 2017 captions on disk and the VGG16 ImageNet
weights file (offline machines: pass its path as image_weights).

Run it with:

    vlpk pretrain --config training/configs/coco_vgg16_concat.py \\
        --workdir runs/coco_vgg16_concat \\
        --set coco_train_annotations=COCO/annotations/captions_train2017.json \\
        --set coco_train_images=COCO/train2017 \\
        --set coco_val_annotations=COCO/annotations/captions_val2017.json \\
        --set coco_val_images=COCO/val2017
    vlpk pretrain --config training/configs/coco_vgg16_concat.py --smoke
"""

from vlpk.config import PretrainConfig

config = PretrainConfig(
    name="coco_vgg16_concat",
    dataset="coco",
    image_backbone="vgg16",
    image_weights="imagenet",
    image_size=224,
    objectives={"contrastive": 1.0, "matching": 1.0},
    fusion="concat",
    fusion_intermediate_dim=512,
    vocabulary_size=30000,
    sequence_length=32,
    text_layers=4,
    text_heads=8,
    text_hidden_dim=512,
    text_intermediate_dim=2048,
    text_dropout=0.1,
    embedding_dim=256,
    batch_size=128,
    epochs=10,
    learning_rate=1e-4,
    checkpoint_every=1000,
)


def smoke(config):
    """Same architecture family at toy size, on generated Shapes, no weights."""
    return config.smoke()
