"""The sentiment classifier's shared code: what ``train.py`` and ``service.py`` import.

Subpackages by layer, bottom first (docs/layout.md has every module): the leaves
``errors``, ``files``, ``asgi``; ``config``; ``features`` and ``telemetry``;
``patches`` (BentoML internals); ``batching``; ``model``; ``training`` and ``jobs``;
``lifecycle``; ``http``; and ``client`` for users. Imports point down only
(``tests/unit/test_layers.py``).
"""
