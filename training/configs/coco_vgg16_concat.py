"""The course's VGG16 + BERT with concatenation fusion, pretrained on COCO.

VGG16 (keras.applications, ImageNet weights) and a BERT text encoder are
trained with image-text contrastive plus image-text matching, where the
matching head reads the concatenation of the pooled image and text vectors:
the corrected version of the course's `Concatenate` model, now with a
pretraining objective. Needs COCO 2017 captions on disk and the VGG16 ImageNet
weights file (offline machines: pass its path as image.weights). Any other
`keras.applications` model, KerasHub or KerasCV preset takes VGG16's place
with `--set image.backbone=...` (e.g. `resnet50`).

Run it with:

    vlpk pretrain --config training/configs/coco_vgg16_concat.py \\
        --workdir runs/coco_vgg16_concat \\
        --set data.train_annotations=COCO/annotations/captions_train2017.json \\
        --set data.train_image_dir=COCO/train2017 \\
        --set data.val_annotations=COCO/annotations/captions_val2017.json \\
        --set data.val_image_dir=COCO/val2017
    vlpk pretrain --config training/configs/coco_vgg16_concat.py --smoke
"""

from vlpk.config import (
    DataConfig,
    FusionConfig,
    ImageConfig,
    OptimizationConfig,
    PretrainConfig,
    TextConfig,
)

config = PretrainConfig(
    name="coco_vgg16_concat",
    objectives={"contrastive": 1.0, "matching": 1.0},
    embedding_dim=256,
    data=DataConfig(name="coco"),
    image=ImageConfig(backbone="vgg16", weights="imagenet", size=224),
    text=TextConfig(
        vocabulary_size=30000,
        sequence_length=32,
        layers=4,
        heads=8,
        hidden_dim=512,
        intermediate_dim=2048,
        dropout=0.1,
    ),
    fusion=FusionConfig(kind="concat", intermediate_dim=512),
    optimization=OptimizationConfig(
        batch_size=128, epochs=10, learning_rate=1e-4, checkpoint_every=1000
    ),
)


def smoke(config):
    """Same architecture family at toy size, on generated Shapes, no weights."""
    return config.smoke()
