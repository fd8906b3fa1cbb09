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

from starlette.types import ASGIApp, Receive, Scope, Send

from sentiment.middleware import error_response

Role = Literal["online", "jobs", "all"]
JOB_PREFIX = "/classify_file"
ONLINE_PATHS = frozenset({"/classify", "/explain"})
MISDIRECTED = 421


def is_job_route(path: str) -> bool:
    """``/classify_file`` and its ``/submit``, ``/status``, ``/get`` ... routes."""
    return path == JOB_PREFIX or path.startswith(f"{JOB_PREFIX}/")


def is_online_route(path: str) -> bool:
    """The model's request/response APIs: /classify, /explain, V2 inference."""
    return path in ONLINE_PATHS or (path.startswith("/v2/") and path.endswith("/infer"))


class RoleRoutes:
    """Refuse, with 421, the model routes this replica's role does not serve.

    Health, metrics, ``/ui`` and the operator endpoints answer in every role, so
    probes and scrapes work the same on every pod.

    Args:
        app: the next ASGI app.
        role: ``online`` (no file jobs), ``jobs`` (only file jobs) or ``all``.
        jobs_url: where file jobs are served, named in the online refusal.
        online_url: where the online APIs are served, named in the jobs refusal.
    """

    def __init__(
        self, app: ASGIApp, role: Role, jobs_url: str = "", online_url: str = ""
    ) -> None:
        self.app = app
        self.role = role
        self.jobs_where = f" at {jobs_url}" if jobs_url else ""
        self.online_where = f" at {online_url}" if online_url else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass what this role serves; answer 421 to the rest."""
        if scope["type"] != "http" or self.role == "all":
            return await self.app(scope, receive, send)
        path = scope["path"]
        if self.role == "online" and is_job_route(path):
            message = (
                "this replica serves online requests only (SENTIMENT_ROLE=online): "
                f"send {JOB_PREFIX}* to the jobs deployment{self.jobs_where}"
            )
        elif self.role == "jobs" and is_online_route(path):
            message = (
                "this replica serves file jobs only (SENTIMENT_ROLE=jobs): "
                f"send {path} to the online deployment{self.online_where}"
            )
        else:
            return await self.app(scope, receive, send)
        refusal = error_response(MISDIRECTED, "wrong_role", message)
        return await refusal(scope, receive, send)
