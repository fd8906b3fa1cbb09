"""Building a model: the pipeline and presets, data, evaluation, behaviour, the card."""
