"""Retrieval fine-tuning: contrastive (+ matching) on the run's captions.

An `ImageTextPretrainer` keeps its contrastive and matching heads (the
masked-LM head is dropped); the test split is scored with Recall@1/5/10,
contrastive and re-ranked by the matching head (ALBEF-style, top 16).

Run it with:

    vlpk finetune --task retrieval --from runs/albef \\
        --config training/configs/finetune_retrieval.py --workdir runs/albef_retrieval
"""

from vlpk.tasks import FinetuneConfig

config = FinetuneConfig(
    name="finetune_retrieval",
    task="retrieval",
    epochs=2,
    learning_rate=5e-4,
    rerank_k=16,
)
