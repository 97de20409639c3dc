"""deploy/: the compose file, Prometheus config, Grafana provisioning, Kubernetes manifests and Dockerfile agree
with each other and with the production config, which keeps the example's catalogue. (Parsed here; images are
not built and nothing is started: the machines that run the tests reach no container registry.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateway.config import Settings, load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CONFIG_IN_CONTAINER = "/etc/video-gateway/gateway.toml"


def yaml_file(path: str) -> Any:
    return yaml.safe_load((DEPLOY / path).read_text())


def production() -> Settings:
    return load_settings(DEPLOY / "base" / "gateway.production.toml")


def secret_names(settings: Settings) -> set[str]:
    """Every environment variable the config names (provider keys, client keys, Redis URL, metrics token)."""
    names = {p.api_key_env for p in settings.providers.values()} | {k.key_env for k in settings.keys if k.key_env}
    names |= {settings.store.redis_url_env or "", settings.metrics.bearer_token_env or ""}
    return names - {""}


def compose_gateways() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml_file("compose.yaml")["services"]
    return {name: service for name, service in services.items() if name.startswith("gateway")}


def test_production_config_is_redis_backed_with_the_example_catalogue() -> None:
    """The deployed config shares Redis, protects /metrics, listens beyond loopback, and routes as the example."""
    settings, example = production(), load_settings(DEPLOY / "gateway.example.toml")
    assert (settings.store.backend, settings.store.redis_url_env) == ("redis", "VIDEO_GATEWAY_REDIS_URL")
    assert settings.metrics.bearer_token_env == "VIDEO_GATEWAY_METRICS_TOKEN"
    assert settings.server.host == "0.0.0.0"  # noqa: S104 - inside the container
    assert settings.models == example.models
    assert settings.routing == example.routing
    assert set(settings.providers) == set(example.providers)


def test_compose_runs_two_gateways_on_one_redis_with_aof() -> None:
    """Two gateway services from one image and config, both on the Redis service, which keeps an append-only file."""
    compose = yaml_file("compose.yaml")
    gateways = compose_gateways()
    assert len(gateways) == 2
    for service in gateways.values():
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["environment"]["VIDEO_GATEWAY_REDIS_URL"] == "redis://redis:6379/0"
        assert f"./base/gateway.production.toml:{CONFIG_IN_CONTAINER}:ro" in service["volumes"]
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    redis = compose["services"]["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"
    assert redis[redis.index("--maxmemory-policy") + 1] == "noeviction"
    assert {"prometheus", "grafana"} <= set(compose["services"])


def test_compose_passes_every_secret_the_config_names_and_only_from_the_environment() -> None:
    """Each variable the production config names is set on the gateways, and each secret is `${VAR:?...}`."""
    wanted = secret_names(production())
    for service in compose_gateways().values():
        environment: dict[str, str] = service["environment"]
        assert wanted <= set(environment)
        for name in wanted - {"VIDEO_GATEWAY_REDIS_URL"}:
            assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", environment[name]), name


def test_prometheus_scrapes_every_gateway_with_the_metrics_token() -> None:
    """Prometheus scrapes each compose gateway on its port, with the token compose mounts as a secret."""
    compose = yaml_file("compose.yaml")
    (job,) = yaml_file("prometheus.yml")["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert set(job["static_configs"][0]["targets"]) == {f"{name}:8080" for name in compose_gateways()}
    (secret,) = compose["services"]["prometheus"]["secrets"]
    assert job["authorization"]["credentials_file"] == f"/run/secrets/{secret}"
    assert compose["secrets"][secret] == {"environment": production().metrics.bearer_token_env}


def test_grafana_is_provisioned_with_the_data_source_and_the_dashboards() -> None:
    """Grafana reads the dashboards where compose mounts them, from the Prometheus service, as the default source."""
    grafana = yaml_file("compose.yaml")["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"] if volume.startswith("./"))
    (provider,) = yaml_file("grafana/provisioning/dashboards/video-gateway.yaml")["providers"]
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    (source,) = yaml_file("grafana/provisioning/datasources/prometheus.yaml")["datasources"]
    assert (source["type"], source["url"], source["isDefault"]) == ("prometheus", "http://prometheus:9090", True)
    assert sorted(p.name for p in (DEPLOY / "grafana" / "dashboards").glob("*.json")) == ["finance.json", "ops.json"]


def test_kubernetes_runs_two_probed_replicas_on_the_generated_config() -> None:
    """The base Deployment: 2 replicas, readiness /readyz and liveness /healthz, secrets from the Secret, and the
    config from the ConfigMap kustomize generates from the production file."""
    kustomization = yaml_file("base/kustomization.yaml")
    docs = [d for path in kustomization["resources"] for d in yaml.safe_load_all((DEPLOY / "base" / path).read_text())]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["args"] == ["--config", CONFIG_IN_CONTAINER]
    assert container["envFrom"] == [{"secretRef": {"name": "video-gateway-secrets"}}]
    (generated,) = kustomization["configMapGenerator"]
    assert generated["files"] == ["gateway.toml=gateway.production.toml"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == str(Path(CONFIG_IN_CONTAINER).parent))
    assert volumes[mount["name"]]["configMap"]["name"] == generated["name"]
    assert {d["kind"] for d in docs} >= {"Service", "StatefulSet", "PodDisruptionBudget"}
    (redis,) = [d for d in docs if d["kind"] == "StatefulSet"]
    args = redis["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"


KUSTOMIZATIONS = ["base", "overlays/production", "overlays/production-ingress"]


def rendered(kustomization: str) -> list[dict[str, Any]]:
    """What `kubectl kustomize deploy/<kustomization>` renders (skipped where kubectl is not installed)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the overlays are rendered where it is")
    argv = [kubectl, "kustomize", str(DEPLOY / kustomization)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603 - our files
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_kustomization_renders_to_valid_kubernetes_objects(kustomization: str) -> None:
    """Each rendered object validates strictly (unknown fields refused) against the Kubernetes API schema, except
    the Prometheus Operator's ServiceMonitor, which has no schema there and is checked by shape below."""
    objects = rendered(kustomization)
    version = kubernetes_validate.latest_version()
    for obj in objects:
        if obj["kind"] == "ServiceMonitor":
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            raise AssertionError(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}") from exc
    kinds = sorted(obj["kind"] for obj in objects)
    expected = {
        "base": ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "Service", "StatefulSet"],
        "overlays/production": [
            "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "NetworkPolicy",
            "PodDisruptionBudget", "Service", "Service", "ServiceMonitor", "StatefulSet",
        ],
    }  # fmt: skip
    expected["overlays/production-ingress"] = sorted([*expected["overlays/production"], "Ingress"])
    assert kinds == expected[kustomization]


def test_production_autoscales_monitors_and_fences_the_gateway() -> None:
    """The production overlay: the HPA (2 to 10) owns the replica count, the ServiceMonitor scrapes the Service's
    port with the metrics token from the Secret, and the policies let only gateway pods reach Redis."""
    objects = {(o["kind"], o["metadata"]["name"]): o for o in rendered("overlays/production")}
    deployment = objects["Deployment", "video-gateway"]
    assert "replicas" not in deployment["spec"]
    hpa = objects["HorizontalPodAutoscaler", "video-gateway"]["spec"]
    assert (hpa["scaleTargetRef"]["name"], hpa["minReplicas"], hpa["maxReplicas"]) == ("video-gateway", 2, 10)
    monitor = objects["ServiceMonitor", "video-gateway"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    service = objects["Service", "video-gateway"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    assert endpoint["authorization"]["credentials"] == {
        "name": "video-gateway-secrets",
        "key": production().metrics.bearer_token_env,
    }
    fence = objects["NetworkPolicy", "video-gateway-redis"]["spec"]
    assert fence["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "video-gateway-redis"}
    (allowed,) = fence["ingress"]
    assert allowed["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "video-gateway"}}}]


def test_the_ingress_routes_to_the_gateway_service() -> None:
    """The optional Ingress sends every path to the gateway Service's `http` port."""
    objects = {(o["kind"], o["metadata"]["name"]): o for o in rendered("overlays/production-ingress")}
    (rule,) = objects["Ingress", "video-gateway"]["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "video-gateway", "port": {"name": "http"}}


def test_the_image_runs_the_gateway_as_a_non_root_user_on_the_deployed_config() -> None:
    """The Dockerfile installs with the pinned constraints, drops root, and runs `video-gateway run --config`."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE) == ["python:3.11-slim"]
    assert "pip install --constraint constraints.txt ." in dockerfile
    (user,) = re.findall(r"^USER (\S+)$", dockerfile, flags=re.MULTILINE)
    assert not user.startswith(("root", "0"))
    assert 'ENTRYPOINT ["video-gateway", "run"]' in dockerfile
    assert f'CMD ["--config", "{CONFIG_IN_CONTAINER}"]' in dockerfile


def test_the_image_health_check_probes_the_port_the_server_listens_on() -> None:
    """The health check is `video-gateway probe` (port from VIDEO_GATEWAY_PORT or the config), and the image names
    the same config for it as for `run`; no port is written into the check itself."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    (check,) = re.findall(r"^HEALTHCHECK .*?CMD (.+)$", dockerfile, flags=re.MULTILINE)
    assert check == '["video-gateway", "probe"]'
    assert f"ENV VIDEO_GATEWAY_CONFIG={CONFIG_IN_CONTAINER}" in dockerfile
