"""BentoML service: movie-review sentiment over HTTP with adaptive batching.

``POST /classify`` (batched), ``/explain``, V2 infer (the Open Inference
Protocol, also over gRPC), ``/classify_file`` jobs. The composition root:
settings, the service and its APIs, the model routes and their handlers, the
middleware stack; the parts live in ``sentiment/`` (docs/layout.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast

import bentoml
from bentoml.validators import ContentType

from sentiment import patches
from sentiment.batching import dispatcher
from sentiment.config import load_settings
from sentiment.http import handlers, worker
from sentiment.http.oip import OpenInference
from sentiment.http.openapi import service_spec
from sentiment.http.operator import OperatorEndpoints
from sentiment.http.routes import V2_INFER, route_table
from sentiment.http.schemas import TOP_FEATURES, Explanation, Prediction, reviews_type
from sentiment.image import image
from sentiment.jobs import runner
from sentiment.jobs.status import JobStatus
from sentiment.lifecycle import live, registry, shadow
from sentiment.model import artifact
from sentiment.rpc.server import GrpcServer
from sentiment.telemetry.logs import configure_logging
from sentiment.telemetry.prediction_log import record_classified
from sentiment.telemetry.request_ids import RequestIds

SETTINGS = load_settings()  # a SettingsError is a StartupError: one line, exit 1
# A pinned SENTIMENT_MODEL_TAG, else the production model, else the newest:
# what `bentoml serve` loads and `bentoml build` packs (sentiment.lifecycle.registry).
CHOICE = registry.serving_choice(SETTINGS.model_tag, SETTINGS.model_name)
Reviews = reviews_type(SETTINGS.max_texts)
ExplainReviews = reviews_type(32)
JOB_OPTIONS = runner.JobOptions.from_settings(SETTINGS)
dispatcher.install(SETTINGS.dispatch)  # before BentoML's queue
configure_logging(SETTINGS.log_format)


# mypy reads `bentoml.service` as the submodule of the same name, not the decorator.
@bentoml.service(  # type: ignore[operator]
    name="sentiment_classifier",
    image=image(),  # python:3.11-slim, the locked wheels, a BENTOML_HOME check
    workers=SETTINGS.workers,
    traffic={"timeout": SETTINGS.timeout_s},
    logging={"access": {"enabled": False}},  # RequestIds writes it, with the ID
)
class SentimentClassifier:
    """Serves the scikit-learn pipeline from the model store."""

    model_ref = artifact.StoreModel(CHOICE.tag)

    def __init__(self) -> None:
        worker = bentoml.server_context.worker_index
        self.live = live.start(self.model_ref, CHOICE, SETTINGS, worker)
        self.shadow = shadow.start(SETTINGS)
        patches.bind_apis_once(self)  # BentoML rebinds per request otherwise

    @bentoml.on_startup
    async def start_grpc(self) -> None:
        """The worker's gRPC server, on the port the workers share."""
        await GRPC.start()

    @bentoml.on_shutdown
    async def stop_grpc(self) -> None:
        """Let gRPC calls in progress finish, then stop."""
        await GRPC.stop()

    @property
    def model(self) -> Any:
        """The model serving now: read once per batch, swapped whole."""
        return self.live.current

    @bentoml.api(
        route="/classify",
        batchable=True,
        max_batch_size=SETTINGS.max_batch_size,
        max_latency_ms=SETTINGS.max_latency_ms,
    )
    def classify(
        self,
        texts: Reviews,  # type: ignore[valid-type]  # built from SETTINGS above
    ) -> Annotated[list[Prediction], ContentType("application/json")]:
        """Classify reviews, in input order (plain dicts: the edge encodes them)."""
        return live.predictions(self.model, texts, self.shadow)  # type: ignore[return-value]

    @bentoml.api(route="/explain")
    def explain(
        self,
        texts: ExplainReviews,  # type: ignore[valid-type]  # built above
        top: TOP_FEATURES = 5,
    ) -> Annotated[list[Explanation], ContentType("application/json")]:
        """Label each review and show the n-grams that pushed it toward each label."""
        return live.explanations(self.model, texts, top, SETTINGS.explain_max_chars)

    @bentoml.task(route="/classify_file")
    def classify_file(
        self, file: Path, ctx: bentoml.Context, text_column: str = "text"
    ) -> Annotated[str, ContentType("text/csv")]:
        """Score a CSV/TSV/parquet file in the background (sentiment.jobs.runner)."""
        return runner.run_task(
            patches.task_id_of(ctx), file, text_column, self.model, JOB_OPTIONS
        )


# mypy cannot see what a class decorator returns: name the Service it made.
SERVICE = cast("bentoml.Service[SentimentClassifier]", SentimentClassifier)

# The model's routes and their handlers, all answered on one path (the edge,
# sentiment.http.edge): the only list of them.
MODEL_ROUTES: dict[str, worker.BuildHandler] = {
    "/classify": handlers.classify,
    "/explain": handlers.explain,
    V2_INFER: handlers.v2_infer,
}


def add_middleware(middleware: type, **options: Any) -> None:
    """Add an ASGI middleware (BentoML's protocol types it as a factory, hence Any)."""
    SERVICE.add_asgi_middleware(cast(Any, middleware), **options)


# BentoML's own routes (health, docs, file jobs, metrics): after BentoML's
# middlewares (metrics, tracing, timeout), a request gets its ID, then meets the
# job status, the operator endpoints and the V2 health and metadata routes.
add_middleware(RequestIds, access_log=SETTINGS.access_log)
add_middleware(JobStatus)
spec = service_spec(SERVICE, MODEL_ROUTES)
add_middleware(OperatorEndpoints, model_info=live.active_info, spec=spec)
add_middleware(OpenInference, model_name=SETTINGS.model_name, live_tag=live.active_tag)
# Outside them all, BentoML's included: the edge decides from the head (admission)
# and answers every model route itself, into BentoML's batching.
WORKER = worker.install(
    SERVICE,
    SETTINGS,
    route_table(SERVICE, MODEL_ROUTES, SETTINGS.model_name, live.active_version),
    MODEL_ROUTES,
    record_classified if SETTINGS.prediction_log else None,
)
# gRPC into the same admission and V2 handler (sentiment.rpc), once per worker.
GRPC = GrpcServer(WORKER, SETTINGS, live.active_tag)
patches.keep_tasks_for(SETTINGS.job_retention_s)
