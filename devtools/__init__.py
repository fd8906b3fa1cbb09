"""Helpers that the tests, the benchmark and the load tests share (not shipped).

``servers`` (real servers, from :mod:`ops.servers`), ``proc`` and ``rawhttp``
(processes and raw sockets), ``wrk``, ``openloop``, ``locust`` and ``post.lua``
(load generators), ``corpus`` (the corpus texts), ``container`` and
``loadtest_container`` (the image, run as the manifest does), ``haproxy``
(replicas behind a balancer), ``tools`` (the system tools the suite needs and the
rule for a missing one), and the docs checks of ``make lint`` (``linkcheck``,
``docscheck``).
"""
