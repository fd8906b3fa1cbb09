"""Helpers that the tests, the benchmark and the load tests share.

Not shipped in the bento: starting and stopping servers (``servers``), running
wrk and reading its result (``wrk``), the corpus texts (``corpus``), the system
tools the suite needs and the rule for a missing one (``tools``), and the docs
checks of ``make lint`` (``linkcheck``, ``docscheck``).
"""
