from vlpk.layers.pixel_normalization import PixelNormalization  # noqa: F401
from vlpk.layers.token_pooling import TokenPooling  # noqa: F401
