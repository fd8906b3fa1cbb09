"""The sentiment classifier's shared code: what ``train.py`` and ``service.py`` import.

One module per job: ``config`` (settings from the environment), ``schemas``
(review rules, request and response bodies), ``artifact`` (the train-serve
contract), ``data`` (reading training data), ``model`` (the pipeline),
``metrics``, ``middleware`` and ``openapi`` (the HTTP edge).
"""
