"""Which routes a replica serves: ``SENTIMENT_ROLE=online|jobs|all``.

File jobs keep their status and result on the replica that ran them (BentoML's
SQLite task store and ``sentiment-jobs/`` records under ``BENTOML_HOME``). With
several replicas behind one Service, a poll landing on another pod would get 404;
so the Kubernetes manifest runs the online replicas with ``online`` and one
``jobs`` replica, and its Ingress sends ``/classify_file*`` to the latter
(docs/deploy.md). A request sent to the wrong role is answered 421 Misdirected
Request naming where it belongs, instead of a 404 that hides the routing mistake.
"""

from __future__ import annotations

from typing import Literal

from sentiment.http.refusals import Refusal
from sentiment.http.routes import Route

Role = Literal["online", "jobs", "all"]
JOB_PREFIX = "/classify_file"
MISDIRECTED = 421


class RolePolicy:
    """Which routes this replica's role refuses, with 421, decided at the edge.

    Health, metrics, ``/ui`` and the operator endpoints answer in every role, so
    probes and scrapes work the same on every pod. The refusals are rendered once;
    the edge asks before it reads an upload, so an online replica never buffers a
    file it will not run.

    Args:
        role: ``online`` (no file jobs), ``jobs`` (only file jobs) or ``all``.
        jobs_url: where file jobs are served, named in the online refusal.
        online_url: where the online APIs are served, named in the jobs refusal.
    """

    def __init__(self, role: Role, jobs_url: str = "", online_url: str = "") -> None:
        self.role = role
        jobs_where = f" at {jobs_url}" if jobs_url else ""
        online_where = f" at {online_url}" if online_url else ""
        self.no_jobs = Refusal(
            MISDIRECTED,
            "wrong_role",
            "this replica serves online requests only (SENTIMENT_ROLE=online): "
            f"send {JOB_PREFIX}* to the jobs deployment{jobs_where}",
        )
        self.no_online = Refusal(
            MISDIRECTED,
            "wrong_role",
            "this replica serves file jobs only (SENTIMENT_ROLE=jobs): send /classify, "
            f"/explain and V2 inference to the online deployment{online_where}",
        )

    def refusal(self, route: Route) -> Refusal | None:
        """The 421 for ``route`` in this role, or None when the role serves it."""
        if self.role == "online" and route.serves == "jobs":
            return self.no_jobs
        if self.role == "jobs" and route.serves == "online":
            return self.no_online
        return None
