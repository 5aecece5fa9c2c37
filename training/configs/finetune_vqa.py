"""VQA: an answer classifier on the pretrained cross-attention fusion encoder.

Trains on the soft scores of the train split's most frequent answers with a
binary cross-entropy, answers the test questions and scores them with the
official VQA accuracy (`vlpk evaluate vqa` on `vqa_results.json`).

Run it with:

    vlpk finetune --task vqa --from runs/albef \\
        --config training/configs/finetune_vqa.py --workdir runs/albef_vqa
"""

from vlpk.tasks import FinetuneConfig

config = FinetuneConfig(
    name="finetune_vqa",
    task="vqa",
    epochs=3,
    learning_rate=1e-3,
    top_answers=3129,
    head_dropout=0.1,
)
