"""deploy/k8s/values.yaml, for Dagster's Helm chart, checked statically: it parses, names our image and
code location, launches runs with the K8s run launcher, and gives the code server and every run the
settings docker-compose.yml gives its Dagster services (deploy/k8s/tracktracker.yaml holds them).

No Kubernetes and no helm here: key names are validated against the parts of the chart's
values.schema.json this file sets, transcribed below (dagster-io/dagster, helm/dagster/values.schema.json
at commit bdb8547, with the Kubernetes object definitions it references from outside left open). The
chart's schema itself is not vendored: it references kubernetesjsonschema.dev, which is not reachable
from here.
"""

from __future__ import annotations

import re

import jsonschema
import pytest
import yaml

from tests.conftest import REPO
from tests.test_compose import resolved  # noqa: F401 (the resolved docker-compose.yml, a fixture)

K8S = REPO / "deploy" / "k8s"
ANY: dict = {}  # a Kubernetes object the chart's schema takes from kubernetesjsonschema.dev
STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
IMAGE = {
    "type": "object",
    "properties": {
        "repository": {"type": "string"},
        "tag": {"type": ["string", "integer", "null"]},
        "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
    },
    "required": ["repository", "pullPolicy"],
}
ENV_SOURCES = {"type": "array", "items": ANY}
SERVICE = {
    "type": "object",
    "properties": {"type": {"type": "string"}, "port": {"type": "integer"}, "annotations": STRINGS},
    "required": ["type", "port"],
    "additionalProperties": False,
}
USER_DEPLOYMENT = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "image": IMAGE,
        "dagsterApiGrpcArgs": {"type": "array", "items": {"type": "string"}},
        "codeServerArgs": {"type": "array", "items": {"type": "string"}},
        "includeConfigInLaunchedRuns": {
            "type": "object",
            "properties": {"enabled": {"type": "boolean"}},
            "required": ["enabled"],
        },
        "deploymentNamespace": {"type": "string"},
        "port": {"type": "integer"},
        "env": {"anyOf": [STRINGS, {"type": "array"}]},
        "envConfigMaps": ENV_SOURCES,
        "envSecrets": ENV_SOURCES,
        "annotations": STRINGS,
        "nodeSelector": STRINGS,
        "affinity": ANY,
        "tolerations": {"type": "array"},
        "podSecurityContext": ANY,
        "securityContext": ANY,
        "resources": ANY,
        "livenessProbe": ANY,
        "readinessProbe": ANY,
        "startupProbe": ANY,
        "labels": STRINGS,
        "volumeMounts": {"type": "array"},
        "volumes": {"type": "array"},
        "schedulerName": {"type": "string"},
        "initContainers": {"type": "array"},
        "sidecarContainers": {"type": "array"},
    },
    "required": ["name", "image", "port"],
    # the chart's UserDeployment leaves additionalProperties open; closed here so a misspelt key fails
    "additionalProperties": False,
}
K8S_RUN_LAUNCHER = {
    "type": "object",
    "properties": {
        "image": {"anyOf": [IMAGE, {"type": "null"}]},
        "imagePullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
        "jobNamespace": {"type": ["string", "null"]},
        "loadInclusterConfig": {"type": "boolean"},
        "kubeconfigFile": {"type": ["string", "null"]},
        "envConfigMaps": ENV_SOURCES,
        "envSecrets": ENV_SOURCES,
        "envVars": {"type": "array", "items": {"type": "string"}},
        "volumeMounts": {"type": "array"},
        "volumes": {"type": "array"},
        "labels": {"type": ["object", "null"]},
        "failPodOnRunFailure": {"type": ["boolean", "null"]},
        "resources": ANY,
        "schedulerName": {"type": ["string", "null"]},
        "securityContext": ANY,
        "runK8sConfig": ANY,
    },
    "required": [
        "imagePullPolicy",
        "loadInclusterConfig",
        "envConfigMaps",
        "envSecrets",
        "envVars",
        "volumeMounts",
        "volumes",
    ],
    "additionalProperties": False,
}
TAG_LIMIT = {
    "type": "object",
    "properties": {"key": {"type": "string"}, "value": ANY, "limit": {"type": "integer"}},
    "required": ["key", "limit"],
    "additionalProperties": False,
}
SCHEMA = {
    "type": "object",
    # the chart's top-level keys (its schema closes none of them off; Helm merges the chart's defaults)
    "propertyNames": {
        "enum": [
            "dagsterWebserver",
            "dagster-user-deployments",
            "postgresql",
            "generatePostgresqlPasswordSecret",
            "generateCeleryConfigSecret",
            "rabbitmq",
            "redis",
            "flower",
            "ingress",
            "imagePullSecrets",
            "computeLogManager",
            "scheduler",
            "runLauncher",
            "pythonLogs",
            "dagsterDaemon",
            "busybox",
            "migrate",
            "telemetry",
            "serviceAccount",
            "global",
            "retention",
            "additionalInstanceConfig",
        ]
    },
    "properties": {
        "dagster-user-deployments": {
            "type": "object",
            "properties": {
                "enabled": {"type": "boolean"},
                "enableSubchart": {"type": "boolean"},
                "imagePullSecrets": {"type": "array"},
                "deployments": {"type": "array", "items": USER_DEPLOYMENT},
            },
            "additionalProperties": False,
        },
        "runLauncher": {
            "type": "object",
            "properties": {
                "type": {"enum": ["CeleryK8sRunLauncher", "K8sRunLauncher", "CustomRunLauncher"]},
                "config": {
                    "type": "object",
                    "properties": {"k8sRunLauncher": K8S_RUN_LAUNCHER},
                    "propertyNames": {
                        "enum": ["celeryK8sRunLauncher", "k8sRunLauncher", "customRunLauncher"]
                    },
                },
            },
            "required": ["type", "config"],
            "additionalProperties": False,
        },
        "postgresql": {
            "type": "object",
            "propertyNames": {
                "enum": [
                    "image",
                    "enabled",
                    "postgresqlHost",
                    "postgresqlUsername",
                    "postgresqlPassword",
                    "postgresqlDatabase",
                    "postgresqlParams",
                    "postgresqlScheme",
                    "service",
                ]
            },
            "properties": {
                "enabled": {"type": "boolean"},
                "postgresqlHost": {"type": "string"},
                "postgresqlUsername": {"type": "string"},
                "postgresqlDatabase": {"type": "string"},
                "postgresqlParams": {"type": "object"},
                "service": {
                    "type": "object",
                    "properties": {"port": {"type": "integer"}},
                    "required": ["port"],
                },
            },
        },
        "generatePostgresqlPasswordSecret": {"type": "boolean"},
        "global": {
            "type": "object",
            "propertyNames": {
                "enum": [
                    "postgresqlSecretName",
                    "dagsterHome",
                    "serviceAccountName",
                    "celeryConfigSecretName",
                ]
            },
        },
        "dagsterDaemon": {
            "type": "object",
            "properties": {
                "runCoordinator": {
                    "type": "object",
                    "properties": {
                        "enabled": {"type": "boolean"},
                        "type": {"enum": ["QueuedRunCoordinator", "CustomRunCoordinator"]},
                        "config": {
                            "type": "object",
                            "properties": {
                                "queuedRunCoordinator": {
                                    "type": "object",
                                    "properties": {
                                        "maxConcurrentRuns": {"type": "integer"},
                                        "tagConcurrencyLimits": {"type": "array", "items": TAG_LIMIT},
                                        "dequeueIntervalSeconds": {"type": "integer"},
                                        "dequeueNumWorkers": {"type": "integer"},
                                        "dequeueUseThreads": {"type": "boolean"},
                                        "blockOpConcurrencyLimitedRuns": {"type": "object"},
                                    },
                                    "additionalProperties": False,
                                }
                            },
                        },
                    },
                    "required": ["enabled", "type", "config"],
                    "additionalProperties": False,
                },
                "runMonitoring": {"type": "object"},
            },
            "propertyNames": {
                "enum": [
                    "enabled",
                    "image",
                    "runCoordinator",
                    "heartbeatTolerance",
                    "env",
                    "envConfigMaps",
                    "envSecrets",
                    "deploymentLabels",
                    "labels",
                    "nodeSelector",
                    "affinity",
                    "tolerations",
                    "podSecurityContext",
                    "securityContext",
                    "resources",
                    "livenessProbe",
                    "readinessProbe",
                    "startupProbe",
                    "annotations",
                    "runMonitoring",
                    "runRetries",
                    "sensors",
                    "schedules",
                    "schedulerName",
                    "volumeMounts",
                    "volumes",
                    "initContainerResources",
                ]
            },
        },
        "dagsterWebserver": {
            "type": "object",
            "properties": {"service": SERVICE},
        },
        "ingress": {"type": "object", "properties": {"enabled": {"type": "boolean"}}},
        "telemetry": {
            "type": "object",
            "properties": {"enabled": {"type": "boolean"}},
            "required": ["enabled"],
            "additionalProperties": False,
        },
    },
}
# the keys the chart's instance template reads from dagsterDaemon.runMonitoring
RUN_MONITORING_KEYS = {
    "enabled",
    "startTimeoutSeconds",
    "cancelTimeoutSeconds",
    "maxResumeRunAttempts",
    "pollIntervalSeconds",
    "freeSlotsAfterRunEndSeconds",
}


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((K8S / "values.yaml").read_text())


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], dict]:
    docs = [d for d in yaml.safe_load_all((K8S / "tracktracker.yaml").read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_values_use_the_charts_keys(values: dict) -> None:
    jsonschema.validate(values, SCHEMA)
    assert set(values["dagsterDaemon"]["runMonitoring"]) <= RUN_MONITORING_KEYS
    # the schema check itself refuses a misspelt key
    broken = yaml.safe_load((K8S / "values.yaml").read_text())
    broken["runLauncher"]["config"]["k8sRunLauncher"]["envSecret"] = []
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def _deployment(values: dict) -> dict:
    deployments = values["dagster-user-deployments"]["deployments"]
    assert len(deployments) == 1
    return deployments[0]


def test_our_image_and_code_location(values: dict, resolved: dict) -> None:  # noqa: F811
    deployment = _deployment(values)
    compose_image = resolved["services"]["user-code"]["image"]  # tracktracker:latest
    repository, tag = compose_image.split(":")
    assert (deployment["image"]["repository"], str(deployment["image"]["tag"])) == (repository, tag)
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    module = workspace["load_from"][0]["python_module"]["module_name"]
    assert module == "tracktracker_assets.definitions"
    assert deployment["codeServerArgs"] == ["-m", module]
    # init before the code server, as compose's init service: the same image and command
    (init,) = deployment["initContainers"]
    assert init["image"] == compose_image
    assert init["command"][-2:] == resolved["services"]["init"]["command"] == ["tracktracker", "init"]
    assert init["command"][0] == "/app/deploy/entrypoint.sh"  # `command` replaces the image's entrypoint
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True


def _sources(spec: dict) -> tuple[set[str], set[str], dict[str, str]]:
    """ConfigMaps, Secrets and volume mounts (path -> claim) a pod spec of values.yaml is given."""
    configmaps = {s["name"] for s in spec.get("envConfigMaps", [])}
    secrets = {s["name"] for s in spec.get("envSecrets", [])}
    for source in spec.get("envFrom", []):
        configmaps |= {source["configMapRef"]["name"]} if "configMapRef" in source else set()
        secrets |= {source["secretRef"]["name"]} if "secretRef" in source else set()
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes", [])}
    mounts = {m["mountPath"]: m["name"] for m in spec.get("volumeMounts", [])}
    return configmaps, secrets, {path: claims.get(name, name) for path, name in mounts.items()}


def test_code_server_and_runs_get_the_settings_compose_gives_dagster(
    values: dict,
    objects: dict,
    resolved: dict,  # noqa: F811
) -> None:
    deployment = _deployment(values)
    (init,) = deployment["initContainers"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    configmaps, secrets, mounts = _sources(deployment)
    assert _sources(launcher) == (configmaps, secrets, mounts)  # runs: the same as the code server
    assert _sources(init)[:2] == (configmaps, secrets)
    assert mounts == {"/data": "tracktracker-data"}
    assert ("PersistentVolumeClaim", "tracktracker-data") in objects
    assert "ReadWriteMany" in objects["PersistentVolumeClaim", "tracktracker-data"]["spec"]["accessModes"]

    given: dict[str, str] = {}
    for name in configmaps:
        given |= objects["ConfigMap", name]["data"]
    secret_keys: set[str] = set()
    for name in secrets:
        secret = objects["Secret", name]["stringData"]
        assert all(v == "" for v in secret.values()), "no secret value is committed"
        secret_keys |= set(secret)
    assert not set(given) & secret_keys

    compose = resolved["services"]["user-code"]["environment"]
    # DAGSTER_HOME is the chart's (its instance config); no broker in this chart: steps run in the run's pod
    needed = set(compose) - {
        "DAGSTER_HOME",
        "TRACKTRACKER_CELERY_BROKER_URL",
        "TRACKTRACKER_CELERY_BACKEND_URL",
    }
    assert set(given) | secret_keys == needed
    assert given["TRACKTRACKER_HOME"] == "/data" == compose["TRACKTRACKER_HOME"]
    assert given["TRACKTRACKER_EXECUTOR"] == "in_process"
    site_specific = {
        "TRACKTRACKER_EXECUTOR",
        "TRACKTRACKER_SUPERSET_PUBLIC_URL",
        "TRACKTRACKER_SPOTIFY_REDIRECT_URI",
        "TRACKTRACKER_SPOTIFY_CLIENT_ID",
    }
    for key in set(given) - site_specific:
        assert given[key] == compose[key], key
    # passwords, keys and URLs carrying credentials are in a Secret, never in the ConfigMap
    credentials = {k for k in needed if re.search(r"PASSWORD|SECRET|DATABASE_URL|MONGO_URL|REDIS_URL", k)}
    assert len(credentials) >= 10 and credentials <= secret_keys


def test_dagsters_storage_is_our_postgresql(values: dict, objects: dict) -> None:
    postgresql = values["postgresql"]
    assert postgresql["enabled"] is False  # external: ours
    assert (
        postgresql["postgresqlDatabase"] == "dagster" and postgresql["postgresqlUsername"] == "tracktracker"
    )
    assert "postgresqlPassword" not in postgresql and values["generatePostgresqlPasswordSecret"] is False
    secret = objects["Secret", values["global"]["postgresqlSecretName"]]
    assert set(secret["stringData"]) == {"postgresql-password"}


def test_the_queue_is_dagster_yamls(values: dict) -> None:
    instance = yaml.safe_load((REPO / "dagster.yaml").read_text())
    runs = instance["concurrency"]["runs"]
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["maxConcurrentRuns"] == runs["max_concurrent_runs"]
    assert queued["tagConcurrencyLimits"] == runs["tag_concurrency_limits"]
    monitoring = values["dagsterDaemon"]["runMonitoring"]
    for key, value in instance["run_monitoring"].items():  # the chart writes them in snake_case
        assert monitoring[re.sub(r"_(\w)", lambda m: m.group(1).upper(), key)] == value, key
    assert values["additionalInstanceConfig"]["concurrency"]["pools"] == instance["concurrency"]["pools"]
    # the chart's webserver has no TrackTracker login: never published outside the cluster
    assert values["ingress"]["enabled"] is False
    assert values["dagsterWebserver"]["service"]["type"] == "ClusterIP"
