"""Helpers that the tests, the benchmark and the load tests share.

Not shipped in the bento: starting and stopping servers (``servers``), running
wrk and reading its result (``wrk``), and the corpus texts (``corpus``).
"""
