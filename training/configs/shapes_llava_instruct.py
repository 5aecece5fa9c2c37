"""LLaVA stage 2 on Shapes: visual instruction tuning on conversations.

Each Shapes conversation is a caption turn and every VQA question of the
image; the connector and the LM train (`llm.tuning`: `full`, `lora` or
`frozen`), on the answer tokens only. Start from the alignment run:

    vlpk pretrain --config training/configs/shapes_llava_instruct.py \\
        --set init_from=runs/llava_align --workdir runs/llava_instruct
    vlpk pretrain --config training/configs/shapes_llava_instruct.py \\
        --set llm.tuning=lora --smoke

Without `init_from` it instruction-tunes from scratch. With `--set
data.train=shards/llava/train` it trains on LLaVA conversation shards
(`vlpk data convert --format llava`); see docs/vision_lm.md. The run scores
generated VQA answers (official accuracy), captions (CIDEr) and POPE's
random, popular and adversarial questions on the test split.
"""

from vlpk.config.vision_lm import VisionLMConfig

config = VisionLMConfig(name="shapes_llava_instruct", stage="instruct")


def smoke(config):
    """Shrinks the experiment so it runs anywhere in seconds."""
    return config.smoke()
