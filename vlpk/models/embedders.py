"""The embedding views shared by every model with a contrastive head."""

import keras


class ContrastiveEmbedders:
    """Mixin: sub-models that embed images or text alone, and the temperature.

    The host model must name its projection layers `image_projection` and
    `text_projection` (each called once), have `images`, `token_ids` and
    `padding_mask` inputs, and keep its `LogitScale` as `logit_scale_layer`.
    The sub-models share the host's weights; retrieval evaluation and the
    SavedModel's `embed_image`/`embed_text` signatures are built from them.
    """

    def image_embedder(self):
        """A model from `images` to the L2-normalized image embedding."""
        return keras.Model(
            self.input["images"],
            self.get_layer("image_projection").output,
            name="image_embedder",
        )

    def text_embedder(self):
        """A model from `token_ids`/`padding_mask` to the text embedding."""
        inputs = {k: self.input[k] for k in ("token_ids", "padding_mask")}
        return keras.Model(
            inputs, self.get_layer("text_projection").output, name="text_embedder"
        )

    @property
    def temperature(self):
        """The current temperature, `1 / logit_scale`."""
        return 1.0 / float(self.logit_scale_layer.logit_scale())
