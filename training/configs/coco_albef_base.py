"""ALBEF-base on COCO: ViT-B/16, 6-layer BERT text encoder, 6-layer fusion.

ALBEF's split of BERT-base: 6 text layers, then 6 cross-attention fusion
layers; contrastive + image-text matching (hard negatives from the global
batch) + image-conditioned masked LM, equally weighted. GPU scale.

Run it with:

    vlpk pretrain --config training/configs/coco_albef_base.py \\
        --workdir runs/albef_base \\
        --set coco_train_annotations=... --set coco_train_images=... \\
        --set coco_val_annotations=... --set coco_val_images=...
    vlpk pretrain --config training/configs/coco_albef_base.py --smoke
"""

from vlpk.config import PretrainConfig

config = PretrainConfig(
    name="coco_albef_base",
    dataset="coco",
    image_backbone="vit",
    image_size=224,
    vocabulary_size=30522,
    sequence_length=32,
    text_layers=6,
    text_heads=12,
    text_hidden_dim=768,
    text_intermediate_dim=3072,
    text_dropout=0.1,
    objectives={"contrastive": 1.0, "matching": 1.0, "masked_lm": 1.0},
    fusion="cross_attention",
    fusion_layers=6,
    fusion_heads=12,
    fusion_intermediate_dim=3072,
    embedding_dim=256,
    strategy="mirrored",
    precision="mixed_bfloat16",
    jit_compile=True,
    batch_size=256,
    epochs=30,
    learning_rate=1e-4,
    weight_decay=0.02,
    checkpoint_every=1000,
)


def smoke(config):
    """One-layer towers and fusion on Shapes, single device, float32."""
    return config.smoke().replace(
        strategy="default", precision="float32", jit_compile=False
    )
