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

    def image_embedder(self, normalized=True):
        """A model from `images` to the image embedding.

        With `normalized=False` the final L2 normalization is left out (for
        int8 TFLite, where the host normalizes: cosines are unchanged).
        """
        return self._embedder("image_projection", ("images",), normalized)

    def text_embedder(self, normalized=True):
        """A model from `token_ids`/`padding_mask` to the text embedding."""
        return self._embedder(
            "text_projection", ("token_ids", "padding_mask"), normalized
        )

    def _embedder(self, layer_name, input_names, normalized):
        head = self.get_layer(layer_name)
        inputs = {k: self.input[k] for k in input_names}
        if len(input_names) == 1:
            inputs = inputs[input_names[0]]
        output = head.output if normalized else head.project(head.input)
        kind = layer_name.split("_")[0]
        return keras.Model(inputs, output, name=f"{kind}_embedder")

    @property
    def temperature(self):
        """The current temperature, `1 / logit_scale`."""
        return 1.0 / float(self.logit_scale_layer.logit_scale())
