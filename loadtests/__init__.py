"""Locust load tests for POST /classify and their pass/fail checks."""
