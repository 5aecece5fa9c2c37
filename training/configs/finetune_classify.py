"""Classification: zero-shot first, then fine-tune the image encoder (or probe).

The test split is classified zero-shot with the templates below (CLIP-style
ensembling), then an `ImageClassifier` task over the pretrained image encoder
is fine-tuned on the train labels. `--set linear_probe=true` freezes the
encoder and trains the linear head alone.

Run it with:

    vlpk finetune --task classify --from runs/albef \\
        --config training/configs/finetune_classify.py --workdir runs/albef_classify
"""

from vlpk.tasks import FinetuneConfig
from vlpk.tasks.zero_shot import TEMPLATES

config = FinetuneConfig(
    name="finetune_classify",
    task="classify",
    epochs=10,
    learning_rate=1e-3,
    # CLIP-style prompts; set your own tuple, or `--set "templates=a {}.|..."`.
    templates=TEMPLATES,
)
