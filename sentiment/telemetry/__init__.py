"""What operators see: metrics, JSON logs, request IDs, the prediction log."""
