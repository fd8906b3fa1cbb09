"""Release tools: the promotion gate, rollback, the shadow report."""
