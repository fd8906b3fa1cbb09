"""File jobs: job records, slots and the runner; reading and scoring tables."""
