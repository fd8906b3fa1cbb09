"""deploy/kubernetes.yaml is valid for a pinned Kubernetes version and complete."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import PROJECT_DIR

KUBERNETES_VERSION = "1.33.0"


@pytest.fixture(scope="module")
def resources() -> dict[str, dict[str, Any]]:
    docs = yaml.safe_load_all((PROJECT_DIR / "deploy" / "kubernetes.yaml").read_text())
    return {doc["kind"]: doc for doc in docs if doc}


def test_every_resource_validates_strictly(
    resources: dict[str, dict[str, Any]],
) -> None:
    assert set(resources) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    for resource in resources.values():
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_validation_catches_a_broken_manifest(
    resources: dict[str, dict[str, Any]],
) -> None:
    broken = {**resources["Service"], "spec": {"ports": [{"port": "eighty"}]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_deployment_is_production_ready(resources: dict[str, dict[str, Any]]) -> None:
    deployment = resources["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_service_and_hpa_target_the_deployment(
    resources: dict[str, dict[str, Any]],
) -> None:
    labels = resources["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert resources["Service"]["spec"]["selector"].items() <= labels.items()
    hpa = resources["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == resources["Deployment"]["metadata"]["name"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
