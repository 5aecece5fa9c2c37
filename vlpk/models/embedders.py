"""What every vlpk dual-encoder backbone shares: its learned temperature."""


class ContrastiveEmbedders:
    """Mixin: the `temperature` of a backbone with a `LogitScale`.

    The host keeps its `LogitScale` as `logit_scale_layer`. Embeddings are
    the host's methods (`get_image_embeddings`, `get_text_embeddings`).
    """

    @property
    def temperature(self):
        """The current temperature, `1 / logit_scale`."""
        return 1.0 / float(self.logit_scale_layer.logit_scale())
