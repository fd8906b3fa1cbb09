"""BentoML's Python clients for this service, with the one fix they need in 1.4.40.

``bentoml.SyncHTTPClient(url).classify_file.submit(file=...)`` raises
``AttributeError: 'SyncHTTPClient' object has no attribute '_opened_files'`` in
BentoML 1.4.40: its ``_submit`` closes the uploaded files through an attribute that
lives on the client's ``ClientFileManager``, not on the client (the async client's
``_submit`` closes them through ``_file_manager`` and works). :class:`SyncHTTPClient`
here is BentoML's, with that attribute pointing where the files are. Remove it when
``tests/unit/test_client.py::test_upstream_sync_submit_is_still_broken`` fails:
that means BentoML fixed it.

Example::

    from sentiment.client import SyncHTTPClient

    with SyncHTTPClient("http://localhost:3000") as client:
        client.classify(texts=["a wonderful film"])
        task = client.classify_file.submit(file=Path("reviews.csv"))
"""

from __future__ import annotations

from typing import Any

import bentoml

from sentiment.patches import opened_files


class SyncHTTPClient(bentoml.SyncHTTPClient):
    """``bentoml.SyncHTTPClient`` whose task ``submit`` works for file uploads."""

    @property
    def _opened_files(self) -> list[Any]:
        """The files this client opened for an upload (kept by its file manager)."""
        return opened_files(self)
