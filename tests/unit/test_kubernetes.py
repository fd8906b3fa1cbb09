"""deploy/kubernetes.yaml: valid for a pinned Kubernetes version, complete, hardened."""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest
import yaml

from devtools.container import pod_spec
from sentiment.http.tenants import TenantsFile
from tests.conftest import PROJECT_DIR

KUBERNETES_VERSION = "1.33.0"
MANIFEST = PROJECT_DIR / "deploy" / "kubernetes.yaml"
Resource = dict[str, Any]


@pytest.fixture(scope="module")
def resources() -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]


def one(resources: list[Resource], kind: str, name: str = "") -> Resource:
    """The resource of ``kind`` (and ``name``, when several share the kind)."""
    (found,) = [
        r
        for r in resources
        if r["kind"] == kind and (not name or r["metadata"]["name"] == name)
    ]
    return found


def deployments(resources: list[Resource]) -> list[Resource]:
    return [r for r in resources if r["kind"] == "Deployment"]


def online(resources: list[Resource]) -> Resource:
    return one(resources, "Deployment", "sentiment-classifier")


def jobs(resources: list[Resource]) -> Resource:
    return one(resources, "Deployment", "sentiment-classifier-jobs")


def env_of(deployment: Resource) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item for item in container["env"]}


def test_every_resource_validates_strictly(resources: list[Resource]) -> None:
    assert sorted(r["kind"] for r in resources) == sorted(
        [
            "Secret",
            "Secret",
            "Deployment",
            "Deployment",
            "PersistentVolumeClaim",
            "Service",
            "Service",
            "Ingress",
            "PodDisruptionBudget",
            "NetworkPolicy",
            "HorizontalPodAutoscaler",
        ]
    )
    for resource in resources:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_validation_catches_a_broken_manifest(resources: list[Resource]) -> None:
    service = one(resources, "Service", "sentiment-classifier")
    broken = {**service, "spec": {"ports": [{"port": "eighty"}]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_deployment_is_production_ready(resources: list[Resource]) -> None:
    deployment = online(resources)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] == 2
    grpc_port = {p["name"]: p["containerPort"] for p in container["ports"]}["grpc"]
    assert container["readinessProbe"]["grpc"]["port"] == grpc_port
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop


@pytest.mark.parametrize("which", [online, jobs])
def test_pods_are_hardened(resources: list[Resource], which: Any) -> None:
    pod = which(resources)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1034  # the image's bentoml user
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert "add" not in security["capabilities"]


@pytest.mark.parametrize("which", [online, jobs])
def test_the_api_key_comes_from_the_example_secret(
    resources: list[Resource], which: Any
) -> None:
    secret = one(resources, "Secret", "sentiment-classifier-api-key")
    reference = env_of(which(resources))["API_KEY"]["valueFrom"]["secretKeyRef"]
    assert reference["name"] == secret["metadata"]["name"]
    assert reference["key"] in secret["stringData"]
    assert "value" not in env_of(which(resources))["API_KEY"]


@pytest.mark.parametrize("which", [online, jobs])
def test_the_tenants_file_is_the_example_secret_read_only(
    resources: list[Resource], which: Any
) -> None:
    """SENTIMENT_TENANTS_FILE names a file of a read-only Secret volume that the
    example Secret holds, and that file is a valid tenants file with digests only."""
    deployment = which(resources)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    path = env_of(deployment)["SENTIMENT_TENANTS_FILE"]["value"]
    directory, _, file = path.rpartition("/")
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == directory]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    secret = one(resources, "Secret", volume["secret"]["secretName"])
    example = TenantsFile.model_validate_json(secret["stringData"][file])
    assert all(spec.key_sha256 and not spec.key for spec in example.tenants.values())


@pytest.mark.parametrize("which", [online, jobs])
def test_every_written_path_is_a_volume(resources: list[Resource], which: Any) -> None:
    """BENTOML_HOME (task store, job records, /metrics files), /tmp, the log."""
    deployment = which(resources)
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"] for v in pod["volumes"]}
    assert set(mounts.values()) <= volumes
    env = env_of(deployment)
    written = [env["BENTOML_HOME"]["value"], env["TMPDIR"]["value"], "/tmp"]
    if "SENTIMENT_PREDICTION_LOG" in env:
        written.append(env["SENTIMENT_PREDICTION_LOG"]["value"])
    for path in written:
        assert any(path == mount or path.startswith(f"{mount}/") for mount in mounts), (
            f"{path} is not on a volume"
        )
    assert not any(m.startswith("/home/bentoml") for m in mounts), "the packed model"


def test_the_image_is_pinned_by_digest(resources: list[Resource]) -> None:
    header = MANIFEST.read_text().split("apiVersion", 1)[0]
    assert "BY DIGEST" in header
    for deployment in deployments(resources):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert re.fullmatch(r"[\w.\-/]+@sha256:[0-9a-f]{64}", container["image"])


def test_online_replicas_spread_and_survive_disruptions(
    resources: list[Resource],
) -> None:
    template = online(resources)["spec"]["template"]
    labels = template["metadata"]["labels"]
    spread = template["spec"]["topologySpreadConstraints"]
    assert "kubernetes.io/hostname" in {c["topologyKey"] for c in spread}
    assert all(
        c["labelSelector"]["matchLabels"].items() <= labels.items() for c in spread
    )
    budget = one(resources, "PodDisruptionBudget")["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget["minAvailable"] >= 1
    assert budget["minAvailable"] < online(resources)["spec"]["replicas"]


def test_the_network_policy_admits_only_the_service_port(
    resources: list[Resource],
) -> None:
    policy = one(resources, "NetworkPolicy")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    for deployment in deployments(resources):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    (rule,) = policy["ingress"]
    assert [p["port"] for p in rule["ports"]] == [3000, 3001]
    assert {p["port"] for rule in policy["egress"] for p in rule["ports"]} == {53}


def test_roles_jobs_replica_and_ingress_routing(resources: list[Resource]) -> None:
    """The invariant: a job submitted through the Ingress is polled on its replica."""
    assert env_of(online(resources))["SENTIMENT_ROLE"]["value"] == "online"
    assert env_of(jobs(resources))["SENTIMENT_ROLE"]["value"] == "jobs"
    assert jobs(resources)["spec"]["replicas"] == 1
    assert jobs(resources)["spec"]["strategy"]["type"] == "Recreate"
    services = {
        s["metadata"]["name"]: s["spec"]["selector"]
        for s in resources
        if s["kind"] == "Service"
    }
    paths = {
        p["path"]: p
        for rule in one(resources, "Ingress")["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert paths["/classify_file"]["pathType"] == "Prefix"
    for path, deployment in (("/classify_file", jobs), ("/", online)):
        service = paths[path]["backend"]["service"]["name"]
        labels = deployment(resources)["spec"]["template"]["metadata"]["labels"]
        assert services[service].items() <= labels.items()
    # Each Service selects only its own Deployment's pods.
    assert (
        not services["sentiment-classifier"].items()
        <= jobs(resources)["spec"]["template"]["metadata"]["labels"].items()
    )
    jobs_volume = {
        v["name"]: v for v in jobs(resources)["spec"]["template"]["spec"]["volumes"]
    }["home"]
    claim = one(resources, "PersistentVolumeClaim")["metadata"]["name"]
    assert jobs_volume["persistentVolumeClaim"]["claimName"] == claim


def test_service_and_hpa_target_the_online_deployment(
    resources: list[Resource],
) -> None:
    hpa = one(resources, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"]["name"] == online(resources)["metadata"]["name"]
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"


def test_the_container_helper_reads_the_hardening(resources: list[Resource]) -> None:
    spec = pod_spec(MANIFEST)
    options = spec.docker_options({"API_KEY": "k"})
    for option in ("--read-only", "--cap-drop", "no-new-privileges", "1034:1034"):
        assert option in options
    assert "API_KEY=k" in options
    assert spec.writable == [
        "/tmp",
        "/var/lib/sentiment/bentoml",
        "/var/lib/sentiment/logs",
    ]
    assert spec.secret_mounts == {
        "/etc/sentiment/tenants": "sentiment-classifier-tenants"
    }


def test_the_container_helper_mounts_secret_files_read_only(tmp_path: Any) -> None:
    """The example Secret's file, or a test's own, bound read-only in the pod."""
    spec = pod_spec(MANIFEST)
    mounted = spec.write_secret_volumes(
        tmp_path, {"sentiment-classifier-tenants": {"tenants.json": "{}"}}
    )
    (host,) = mounted.values()
    assert (host / "tenants.json").read_text() == "{}"
    assert f"{host}:/etc/sentiment/tenants:ro" in spec.docker_options(mounted=mounted)
    example = spec.write_secret_volumes(tmp_path / "example")
    assert "team-a" in (example["/etc/sentiment/tenants"] / "tenants.json").read_text()


def test_keda_scales_the_online_deployment_on_demand(
    resources: list[Resource],
) -> None:
    scaled = yaml.safe_load(
        (PROJECT_DIR / "deploy" / "keda-scaledobject.yaml").read_text()
    )
    assert scaled["kind"] == "ScaledObject"
    assert (
        scaled["spec"]["scaleTargetRef"]["name"]
        == online(resources)["metadata"]["name"]
    )
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    metadata = trigger["metadata"]
    assert "sentiment_admission_queued" in metadata["query"]
    assert float(metadata["threshold"]) > 0
    assert metadata["ignoreNullValues"] == "false"
    assert scaled["spec"]["minReplicaCount"] >= 2
    hpa = one(resources, "HorizontalPodAutoscaler")["spec"]
    assert scaled["spec"]["maxReplicaCount"] == hpa["maxReplicas"]
