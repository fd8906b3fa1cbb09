"""Unit tests for sentiment.client: the workaround is still needed, and says so."""

from __future__ import annotations

import inspect

import bentoml

from sentiment.client import SyncHTTPClient


def upstream_sync_submit_is_broken() -> bool:
    """Whether BentoML's own sync ``_submit`` still reads the missing attribute."""
    source = inspect.getsource(bentoml.SyncHTTPClient._submit)
    return "self._opened_files" in source and not hasattr(
        bentoml.SyncHTTPClient, "_opened_files"
    )


def test_upstream_sync_submit_is_still_broken() -> None:
    assert upstream_sync_submit_is_broken(), (
        f"BentoML {bentoml.__version__} fixed SyncHTTPClient._submit: remove "
        "sentiment/client.py's workaround and use bentoml.SyncHTTPClient"
    )


def test_the_workaround_is_bentomls_client_plus_the_missing_attribute() -> None:
    assert issubclass(SyncHTTPClient, bentoml.SyncHTTPClient)
    added = {n for n in vars(SyncHTTPClient) if not n.startswith("__")}
    assert added - {"_abc_impl"} == {"_opened_files"}
    assert isinstance(vars(SyncHTTPClient)["_opened_files"], property)
