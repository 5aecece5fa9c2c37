"""ALBEF-base on COCO: ViT-B/16, 6-layer BERT text encoder, 6-layer fusion.

ALBEF's split of BERT-base: 6 text layers, then 6 cross-attention fusion
layers; contrastive + image-text matching (hard negatives from the global
batch) + image-conditioned masked LM, equally weighted. GPU scale.

Run it with:

    vlpk pretrain --config training/configs/coco_albef_base.py \\
        --workdir runs/albef_base \\
        --set data.train_annotations=... --set data.train_image_dir=... \\
        --set data.val_annotations=... --set data.val_image_dir=...
    vlpk pretrain --config training/configs/coco_albef_base.py --smoke
"""

from vlpk.config import (
    DataConfig,
    DistributionConfig,
    FusionConfig,
    ImageConfig,
    OptimizationConfig,
    PretrainConfig,
    TextConfig,
)

config = PretrainConfig(
    name="coco_albef_base",
    objectives={"contrastive": 1.0, "matching": 1.0, "masked_lm": 1.0},
    embedding_dim=256,
    data=DataConfig(name="coco"),
    # ViT-B/16 (the ImageConfig defaults).
    image=ImageConfig(backbone="vit", size=224),
    text=TextConfig(
        vocabulary_size=30522,
        sequence_length=32,
        layers=6,
        heads=12,
        hidden_dim=768,
        intermediate_dim=3072,
        dropout=0.1,
    ),
    fusion=FusionConfig(
        kind="cross_attention", layers=6, heads=12, intermediate_dim=3072, dropout=0.1
    ),
    optimization=OptimizationConfig(
        batch_size=256,
        epochs=30,
        learning_rate=1e-4,
        weight_decay=0.02,
        checkpoint_every=1000,
    ),
    distribution=DistributionConfig(
        strategy="mirrored", precision="mixed_bfloat16", jit_compile=True
    ),
)


def smoke(config):
    """One-layer towers and fusion on Shapes, single device, float32."""
    return config.smoke().replace(distribution=DistributionConfig())
