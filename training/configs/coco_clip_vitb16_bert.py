"""CLIP at GPU scale: ViT-B/16 + BERT-base, contrastive, on COCO.

The image tower is KerasHub's `ViTBackbone` at ViT-B/16 size, the text tower
a 12-layer BERT-base; the loss is CLIP's with global negatives across every
replica. Meant for GPUs: mirrored over all local GPUs, bfloat16 and XLA.
Pass local weights with `--set image.weights=PATH/TO/vit_preset` and
`--set text.preset=PATH/TO/bert_base_en` (KerasHub preset folders).

Run it with:

    vlpk pretrain --config training/configs/coco_clip_vitb16_bert.py \\
        --workdir runs/clip_vitb16 \\
        --set data.train_annotations=... --set data.train_image_dir=... \\
        --set data.val_annotations=... --set data.val_image_dir=...
    vlpk pretrain --config training/configs/coco_clip_vitb16_bert.py --smoke
"""

from vlpk.config import (
    DataConfig,
    DistributionConfig,
    ImageConfig,
    OptimizationConfig,
    PretrainConfig,
    TextConfig,
)

config = PretrainConfig(
    name="coco_clip_vitb16_bert",
    objectives={"contrastive": 1.0},
    embedding_dim=512,
    data=DataConfig(name="coco"),
    # ViT-B/16: 16-pixel patches, 12 layers of 12 heads, 768 wide, MLP 3072
    # (the ImageConfig defaults).
    image=ImageConfig(backbone="vit", size=224),
    text=TextConfig(
        vocabulary_size=30522,
        sequence_length=32,
        layers=12,
        heads=12,
        hidden_dim=768,
        intermediate_dim=3072,
        dropout=0.1,
    ),
    optimization=OptimizationConfig(
        batch_size=256,
        epochs=10,
        learning_rate=5e-4,
        weight_decay=0.1,
        checkpoint_every=1000,
    ),
    distribution=DistributionConfig(
        strategy="mirrored", precision="mixed_bfloat16", jit_compile=True
    ),
)


def smoke(config):
    """A one-layer ViT and BERT on Shapes, single device, float32, no XLA."""
    return config.smoke().replace(distribution=DistributionConfig())
