"""CLIP at GPU scale: ViT-B/16 + BERT-base, contrastive, on COCO.

The image tower is KerasHub's `ViTBackbone` at ViT-B/16 size, the text tower
a 12-layer BERT-base; the loss is CLIP's with global negatives across every
replica. Meant for GPUs: mirrored over all local GPUs, bfloat16 and XLA.
Pass local weights with `--set image_weights=PATH/TO/vit_preset` and
`--set text_preset=PATH/TO/bert_base_en` (KerasHub preset folders).

Run it with:

    vlpk pretrain --config training/configs/coco_clip_vitb16_bert.py \\
        --workdir runs/clip_vitb16 \\
        --set coco_train_annotations=... --set coco_train_images=... \\
        --set coco_val_annotations=... --set coco_val_images=...
    vlpk pretrain --config training/configs/coco_clip_vitb16_bert.py --smoke
"""

from vlpk.config import PretrainConfig

config = PretrainConfig(
    name="coco_clip_vitb16_bert",
    dataset="coco",
    image_backbone="vit",
    image_size=224,
    vit_patch_size=16,
    vit_layers=12,
    vit_heads=12,
    vit_hidden_dim=768,
    vit_mlp_dim=3072,
    vocabulary_size=30522,
    sequence_length=32,
    text_layers=12,
    text_heads=12,
    text_hidden_dim=768,
    text_intermediate_dim=3072,
    text_dropout=0.1,
    embedding_dim=512,
    objectives={"contrastive": 1.0},
    strategy="mirrored",
    precision="mixed_bfloat16",
    jit_compile=True,
    batch_size=256,
    epochs=10,
    learning_rate=5e-4,
    weight_decay=0.1,
    checkpoint_every=1000,
)


def smoke(config):
    """A one-layer ViT and BERT on Shapes, single device, float32, no XLA."""
    return config.smoke().replace(
        strategy="default", precision="float32", jit_compile=False
    )
