"""Scoring data beyond one machine: the Spark job."""
