"""The ALBEF / CoCa family: backbone, preprocessor and pretraining task."""

from vlpk.models.vision_language.vision_language_backbone import (
    VisionLanguageBackbone,
)
from vlpk.models.vision_language.vision_language_preprocessor import (
    VisionLanguagePreprocessor,
)
from vlpk.models.vision_language.vision_language_pretrainer import (
    ImageTextPretrainer,
)
