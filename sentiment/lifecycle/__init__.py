"""A model's life in the store and in a worker: registry, loading, live swap, shadow."""
