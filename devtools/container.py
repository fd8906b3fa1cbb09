"""Run the shipped image as the Kubernetes manifest runs a pod, on loopback only.

Shared by the container tests and ``make loadtest-container``: the resources and
environment come from ``deploy/kubernetes.yaml`` (read, not copied), the network is
the host's (``--network host``) and the server binds 127.0.0.1 on a free port.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from devtools.servers import PROJECT_DIR, free_port, wait_ready

MANIFEST = PROJECT_DIR / "deploy" / "kubernetes.yaml"
IMAGE_SOURCES = ("service.py", "sentiment", "bentofile.yaml", "requirements/serve.txt")
UNITS = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "K": 1000, "M": 10**6, "G": 10**9}


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    """Run a docker command; its stdout, stripped.

    Raises:
        RuntimeError: the command failed (when ``check``).
    """
    result = subprocess.run(  # noqa: S603 - docker with our own arguments
        ["docker", *args],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip()


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (``2Gi``, ``512Mi``, ``1G``) in bytes."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", quantity.strip())
    if not match:
        raise ValueError(f"cannot read memory quantity {quantity!r}")
    number, unit = match.groups()
    return int(float(number) * UNITS.get(unit or "", 1))


@dataclass(frozen=True)
class PodSpec:
    """What the manifest gives the serving container, as ``docker run`` options."""

    cpus: str
    memory_limit: int
    env: dict[str, str] = field(default_factory=dict)
    secret_env: tuple[str, ...] = ()  # variables a Secret fills (valueFrom)
    user: str = ""  # runAsUser:runAsGroup
    read_only: bool = False  # readOnlyRootFilesystem
    drop_all: bool = False  # capabilities.drop: ["ALL"]
    no_new_privileges: bool = False  # allowPrivilegeEscalation: false
    writable: list[str] = field(default_factory=list)  # volume mount paths
    # Read-only Secret volumes: mount path -> the Secret's name, and the files the
    # manifest's example Secrets hold (by Secret name, then file name).
    secret_mounts: dict[str, str] = field(default_factory=dict)
    secret_files: dict[str, dict[str, str]] = field(default_factory=dict)

    def docker_options(
        self,
        secrets: dict[str, str] | None = None,
        mounted: dict[str, Path] | None = None,
    ) -> list[str]:
        """``docker run`` options for the same limits, security and environment.

        Volumes become tmpfs mounts, world-writable like a fresh emptyDir.

        Args:
            secrets: values for the Secret-filled variables, as the kubelet gives
                them (env); a variable without one stays unset.
            mounted: a host directory for each Secret volume's mount path
                (:meth:`write_secret_volumes`), bound read-only.
        """
        options = ["--cpus", self.cpus, "--memory", str(self.memory_limit)]
        if self.user:
            options += ["--user", self.user]
        if self.read_only:
            options.append("--read-only")
        if self.drop_all:
            options += ["--cap-drop", "ALL"]
        if self.no_new_privileges:
            options += ["--security-opt", "no-new-privileges"]
        for path in self.writable:
            options += ["--tmpfs", f"{path}:rw,mode=1777"]
        for path, host in (mounted or {}).items():
            options += ["-v", f"{host}:{path}:ro"]
        given = {k: v for k, v in (secrets or {}).items() if k in self.secret_env}
        for name, value in {**self.env, **given}.items():
            options += ["-e", f"{name}={value}"]
        return options

    def write_secret_volumes(
        self, root: Path, files: dict[str, dict[str, str]] | None = None
    ) -> dict[str, Path]:
        """Each Secret volume's files under ``root``, as the kubelet projects them.

        Args:
            root: an empty directory to write them in.
            files: a Secret's files instead of the manifest's example (by name).

        Returns:
            The host directory for each mount path (for :meth:`docker_options`).
        """
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)  # the pod's user is not the owner: read like defaultMode
        mounted = {}
        for index, (path, secret) in enumerate(self.secret_mounts.items()):
            directory = root / str(index)
            directory.mkdir()
            directory.chmod(0o755)
            for file, content in {
                **self.secret_files.get(secret, {}),
                **(files or {}).get(secret, {}),
            }.items():
                (directory / file).write_text(content)
                (directory / file).chmod(0o444)
            mounted[path] = directory
        return mounted


def pod_spec(manifest: Path = MANIFEST, deployment_name: str = "") -> PodSpec:
    """The serving container's limits, security context, env and volumes.

    Args:
        manifest: the Kubernetes manifest.
        deployment_name: which Deployment (default: the first, the online one).
    """
    docs = [doc for doc in yaml.safe_load_all(manifest.read_text()) if doc]
    deployment = next(
        doc
        for doc in docs
        if doc["kind"] == "Deployment"
        and deployment_name in ("", doc["metadata"]["name"])
    )
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    limits: dict[str, Any] = container["resources"]["limits"]
    items = container.get("env", [])
    env = {item["name"]: str(item["value"]) for item in items if "value" in item}
    secret_env = tuple(
        item["name"] for item in items if "secretKeyRef" in item.get("valueFrom", {})
    )
    mounts = container.get("volumeMounts", [])
    secret_volumes = {
        v["name"]: v["secret"]["secretName"]
        for v in pod.get("volumes", [])
        if "secret" in v
    }
    example_secrets = {
        doc["metadata"]["name"]: dict(doc.get("stringData", {}))
        for doc in docs
        if doc["kind"] == "Secret"
    }
    pod_security = pod.get("securityContext", {})
    security = container.get("securityContext", {})
    user = ""
    if "runAsUser" in pod_security:
        user = f"{pod_security['runAsUser']}:{pod_security.get('runAsGroup', 0)}"
    return PodSpec(
        cpus=str(limits["cpu"]),
        memory_limit=memory_bytes(str(limits["memory"])),
        env=env,
        secret_env=secret_env,
        user=user,
        read_only=bool(security.get("readOnlyRootFilesystem")),
        drop_all="ALL" in security.get("capabilities", {}).get("drop", []),
        no_new_privileges=security.get("allowPrivilegeEscalation") is False,
        writable=[m["mountPath"] for m in mounts if not m.get("readOnly")],
        secret_mounts={
            m["mountPath"]: secret_volumes[m["name"]]
            for m in mounts
            if m["name"] in secret_volumes
        },
        secret_files=example_secrets,
    )


def newest_source_time(sources: tuple[str, ...] = IMAGE_SOURCES) -> float:
    """Modification time of the newest file that goes into the image."""
    newest = 0.0
    for name in sources:
        path = PROJECT_DIR / name
        files = path.rglob("*.py") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files)])
    return newest


def image_created(image: str) -> float | None:
    """When ``image`` was built (epoch seconds), or None when it does not exist."""
    created = docker("image", "inspect", "-f", "{{.Created}}", image, check=False)
    if not created:
        return None
    return datetime.fromisoformat(created[:19] + "+00:00").timestamp()


def image_size_mb(image: str) -> int:
    """The image's size in MB (10^6 bytes), as `docker images` counts it."""
    return round(int(docker("image", "inspect", "-f", "{{.Size}}", image)) / 1e6)


def container_logs(name: str, lines: int = 40) -> str:
    """The container's last log lines (stdout and stderr)."""
    result = subprocess.run(  # noqa: S603
        ["docker", "logs", "--tail", str(lines), name],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout + result.stderr


@dataclass
class RunningContainer:
    """A container started by :func:`run_image`, and where it answers."""

    name: str
    url: str
    grpc_target: str = ""  # host:port of its gRPC side
    memory_peak: int = 0
    ready_after_s: float = 0.0  # from `docker run` to the first 200 from /readyz

    def cgroup_value(self, name: str) -> int | None:
        """One number from the container's cgroup files, or None."""
        raw = docker("exec", self.name, "cat", f"/sys/fs/cgroup/{name}", check=False)
        return int(raw) if raw.isdigit() else None

    def sample_memory(self) -> int:
        """The container's peak memory so far, in bytes, from its cgroup.

        cgroup v2 keeps it in ``memory.peak`` (kernel 5.19+), v1 in
        ``memory.max_usage_in_bytes``; without either, the current usage is
        sampled and the peak is the largest sample taken.
        """
        for name in (
            "memory.peak",
            "memory/memory.max_usage_in_bytes",
            "memory.current",
            "memory/memory.usage_in_bytes",
        ):
            if value := self.cgroup_value(name):
                self.memory_peak = max(self.memory_peak, value)
                break
        return self.memory_peak


@contextmanager
def run_image(
    image: str,
    spec: PodSpec | None = None,
    ready_timeout: float = 180,
    secrets: dict[str, str] | None = None,
    secret_files: dict[str, dict[str, str]] | None = None,
) -> Iterator[RunningContainer]:
    """Run ``image`` with host networking on a free loopback port; always remove it.

    Args:
        image: the image to run.
        spec: limits, security and env to run it with (default: Docker's defaults).
        ready_timeout: seconds to wait for ``/readyz``.
        secrets: values of the Secret-filled variables (``API_KEY``).
        secret_files: files of the Secret volumes, by Secret name, instead of the
            manifest's examples (``sentiment-classifier-tenants``: ``tenants.json``).
    """
    port = free_port()
    name = f"sentiment-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="sentiment-secrets-") as volumes:
        mounted = spec.write_secret_volumes(Path(volumes), secret_files) if spec else {}
        options = spec.docker_options(secrets, mounted) if spec else []
        with started_container(name, port, image, options, ready_timeout) as running:
            yield running


@contextmanager
def started_container(
    name: str, port: int, image: str, options: list[str], ready_timeout: float
) -> Iterator[RunningContainer]:
    """``docker run`` the image with ``options``, once ready; always removed.

    Its gRPC side gets a free port of its own: on the host's network, the
    default (the HTTP port + 1) may be taken.
    """
    started = time.monotonic()
    grpc_port = free_port()
    docker(
        "run",
        "-d",
        "--network",
        "host",
        "--name",
        name,
        *options,
        "-e",
        f"SENTIMENT_GRPC_PORT={grpc_port}",
        image,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    )
    running = RunningContainer(
        name, f"http://127.0.0.1:{port}", grpc_target=f"127.0.0.1:{grpc_port}"
    )
    try:
        wait_ready(
            running.url,
            alive=lambda: docker("inspect", "-f", "{{.State.Running}}", name) == "true",
            logs=lambda: container_logs(name),
            timeout=ready_timeout,
        )
        running.ready_after_s = round(time.monotonic() - started, 2)
        yield running
    finally:
        docker("rm", "-f", name, check=False)
