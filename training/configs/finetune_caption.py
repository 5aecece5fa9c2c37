"""Captioning: a caption decoder over the pretrained image encoder.

A CoCa run's own decoder is fine-tuned; an ALBEF run gets a new decoder
sized by its config. BLEU-4 on validation is logged every epoch; the test
captions (greedy; `--set caption_sampler=beam` for beam search) are scored
with the COCO caption evaluation: BLEU-1..4, METEOR, ROUGE-L, CIDEr.

Run it with:

    vlpk finetune --task caption --from runs/albef \\
        --config training/configs/finetune_caption.py --workdir runs/albef_caption
"""

from vlpk.tasks import FinetuneConfig

config = FinetuneConfig(
    name="finetune_caption",
    task="caption",
    epochs=3,
    learning_rate=1e-3,
    caption_sampler="greedy",
)
