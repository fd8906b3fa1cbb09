"""Which model serves: a ``production`` pointer in the model store, and its history.

BentoML has no aliases, only ``latest`` (the newest version). This module adds
one beside it: ``<store>/models/<name>/production`` holds the tag of the model
in production, written atomically by ``make promote`` and ``make rollback``;
``<store>/models/<name>/promotions.jsonl`` is the audit log, one line per change
(time, action, tags, the gate report's sha256). BentoML's store lists only the
directories there, so it never sees either file.

``train.py`` saves *candidates*; nothing serves them until they are promoted.
The one exception is a store with nothing in production: there ``train.py``
points production at the model that serves (the newest before it, else the one
it just saved), so the first promotion has a ``from`` to roll back to.
"""

from __future__ import annotations

import getpass
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiment.files import write_atomically
from sentiment.patches import model_store_path
from sentiment.telemetry.logs import SERVICE_LOGGER

POINTER = "production"
AUDIT_LOG = "promotions.jsonl"

logger = logging.getLogger(SERVICE_LOGGER)


def store_path() -> Path:
    """The model store in use (a bento's own when serving a bento)."""
    return model_store_path()


def store_dir(name: str) -> Path:
    """The model store's directory for models called ``name``."""
    return store_path() / name


def in_bento() -> bool:
    """Whether the store is a bento's own (``bentoml serve <bento>``, the image)."""
    return (store_path().parent / "bento.yaml").is_file()


def pointer_path(name: str) -> Path:
    """The file that names the production model."""
    return store_dir(name) / POINTER


def production_tag(name: str) -> str | None:
    """The production model's tag, or None when nothing was ever promoted."""
    try:
        tag = pointer_path(name).read_text().strip()
    except FileNotFoundError:
        return None
    return tag or None


def audit_log(name: str) -> list[dict[str, Any]]:
    """Every promotion and rollback so far, oldest first."""
    try:
        lines = (store_dir(name) / AUDIT_LOG).read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def set_production(
    name: str, tag: str, action: str, report_sha256: str | None = None
) -> dict[str, Any]:
    """Point production at ``tag`` and append the change to the audit log.

    Returns:
        The audit entry written.
    """
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "action": action,
        "from": production_tag(name),
        "to": tag,
        "report_sha256": report_sha256,
        "user": getpass.getuser(),
    }
    directory = store_dir(name)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / AUDIT_LOG).open("a") as log:
        log.write(json.dumps(entry) + "\n")
    write_atomically(pointer_path(name), lambda tmp: tmp.write_text(tag + "\n"))
    return entry


def adopt_serving_model(name: str, newest_before: str | None, saved: str) -> str | None:
    """Point production at the model that serves, when nothing is in production.

    Without a pointer a server serves the newest model, so the model that
    serves before ``saved`` was stored is ``newest_before``, and ``saved``
    itself on an empty store. Recording it makes the first ``make promote``
    name it as ``from``: ``make rollback`` can return to it.

    Args:
        name: the model name.
        newest_before: the newest tag of ``name`` before ``saved`` was stored.
        saved: the tag just stored.

    Returns:
        The tag now in production, or None when production was already set.
    """
    if production_tag(name):
        return None
    tag = newest_before or saved
    set_production(name, tag, "adopt")
    return tag


def previous_production(name: str) -> str | None:
    """The model production pointed at before the current one, if any.

    Found in the audit log: the ``from`` of the latest promotion that made the
    current production model current. Rolling back twice walks further back.
    """
    current = production_tag(name)
    for entry in reversed(audit_log(name)):
        if entry["action"] == "promote" and entry["to"] == current:
            return str(entry["from"]) if entry["from"] else None
    return None


@dataclass(frozen=True)
class ServingChoice:
    """The tag a server should load, and why."""

    tag: str
    reason: str  # "pinned", "production", "packed" or "newest"

    @property
    def follows_production(self) -> bool:
        """Whether the server should swap when the production pointer moves."""
        return self.reason in ("production", "newest")


def serving_choice(configured: str | None, name: str) -> ServingChoice:
    """Which model to serve: a pinned tag, else production, else the newest.

    ``SENTIMENT_MODEL_TAG`` pins a tag; without it the production model serves,
    and only when nothing was ever promoted the newest (``name:latest``). A bento
    (the image) holds one model, the one `bentoml build` chose: ``packed``.
    """
    if configured:
        return ServingChoice(configured, "pinned")
    if in_bento():
        return ServingChoice(f"{name}:latest", "packed")
    tag = production_tag(name)
    if tag:
        return ServingChoice(tag, "production")
    return ServingChoice(f"{name}:latest", "newest")
