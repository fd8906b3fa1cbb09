"""Operating the model: the drift report over the prediction log."""
