"""LLaVA stage 1 on Shapes: feature alignment on captions, the LM frozen.

A small CNN (trained here: Shapes has no pretrained image encoder) and a
connector learn to put the image where a frozen causal LM can describe it.
The LM is a tiny Llama built from config with a SentencePiece vocabulary
learned on the training text; point `llm.preset` at a KerasHub causal-LM
preset (a name, or a folder written by `save_to_preset`) to use another:

    vlpk pretrain --config training/configs/shapes_llava_align.py \\
        --workdir runs/llava_align
    vlpk pretrain --config training/configs/shapes_llava_align.py \\
        --set llm.preset=presets/my_gpt2 --smoke

Then instruction-tune with `shapes_llava_instruct.py`. `--set
data.train=shards/llava/train` aligns on LLaVA conversation shards instead
(e.g. LLaVA's 558k captions, converted with `vlpk data convert --format
llava`); see docs/vision_lm.md.
"""

from vlpk.config.vision_lm import LanguageModelConfig, VisionLMConfig

config = VisionLMConfig(
    name="shapes_llava_align",
    stage="alignment",
    # No pretrained LM for Shapes: train one on the captions first, then
    # freeze it (saved as a KerasHub preset in <workdir>/llm_preset).
    llm=LanguageModelConfig(text_epochs=3),
)


def smoke(config):
    """Shrinks the experiment so it runs anywhere in seconds."""
    return config.smoke()
