"""docker-compose.yml: accepted by docker-compose (Debian's works without an engine), on the real postgres
and mongo images, and running the very commands and settings local mode runs."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
SECRETS = (
    "POSTGRES_PASSWORD",
    "MONGO_PASSWORD",
    "TRACKTRACKER_SECRET_KEY",
    "SUPERSET_SECRET_KEY",
    "TRACKTRACKER_SUPERSET_ADMIN_PASSWORD",
    "TRACKTRACKER_SUPERSET_READER_PASSWORD",
    "SUPERSET_METADATA_PASSWORD",
    "REDIS_PASSWORD",
    "TRACKTRACKER_DAGSTER_OPERATOR_PASSWORD",
    "TRACKTRACKER_DAGSTER_VIEWER_PASSWORD",
    "BROKER_PASSWORD",
)
# the services of the `scale` profile (Celery broker and workers); nothing else carries a profile
SCALE = {"broker", "worker"}
DAGSTER_SERVICES = ("user-code", "webserver", "daemon")


def compose_config(env_file: Path, *options: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "the test command installs Debian's docker-compose"
    return subprocess.run(
        [binary, "--env-file", str(env_file), "-f", str(COMPOSE), *options, "config"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _env_with_secrets() -> str:
    text = (REPO / ".env.example").read_text()
    for name in SECRETS:
        text = re.sub(rf"^{name}=$", f"{name}=not-a-real-secret-{name.lower()}", text, flags=re.M)
    return text


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict:
    env = tmp_path_factory.mktemp("compose") / ".env"
    env.write_text(_env_with_secrets())
    result = compose_config(env)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def resolved_scale(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The `scale` profile, turned on as .env.example says: its two commented lines uncommented."""
    env = tmp_path_factory.mktemp("compose-scale") / ".env"
    text = _env_with_secrets()
    for line in ("COMPOSE_PROFILES=scale", "TRACKTRACKER_EXECUTOR=celery"):
        assert f"# {line}\n" in text, line
        text = text.replace(f"# {line}\n", f"{line}\n")
    env.write_text(text)
    result = compose_config(env, "--profile", "scale")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_env_example_holds_no_secrets_and_compose_refuses_to_run_without_them(tmp_path: Path) -> None:
    values = dict(
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert all(values[name] == "" for name in SECRETS)
    env = tmp_path / ".env"
    env.write_text((REPO / ".env.example").read_text())
    refused = compose_config(env)
    assert refused.returncode != 0 and "set it in .env" in refused.stderr


def _default_services(resolved: dict) -> dict:
    """What `docker compose up` starts without a profile (docker-compose 1.x `config` also prints the
    services of profiles; 2.x leaves them out)."""
    return {name: s for name, s in resolved["services"].items() if not s.get("profiles")}


def test_services_images_healthchecks_and_volumes(resolved: dict) -> None:
    services = _default_services(resolved)
    assert set(services) == {
        "postgres",
        "mongo",
        "init",
        "user-code",
        "webserver",
        "daemon",
        "superset",
        "provision",
        "redis",
    }
    assert services["postgres"]["image"] == "postgres:16"
    assert services["mongo"]["image"] == "mongo:7"
    for name in ("postgres", "mongo", "user-code", "webserver", "superset", "redis"):
        assert "healthcheck" in services[name], name
    assert {"data", "pgdata", "mongodata"} <= set(resolved["volumes"])
    for name in ("init", "user-code", "webserver", "daemon", "superset", "provision"):
        targets = [v["target"] if isinstance(v, dict) else v.split(":")[1] for v in services[name]["volumes"]]
        assert "/data" in targets, name
    for name, service in services.items():  # published only on the loopback interface
        for port in service.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else port.split(":")[0]
            assert host_ip == "127.0.0.1", (name, port)


def _command(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_commands_are_local_modes_commands(resolved: dict) -> None:
    """Local mode (services/dagster.py, dashboards/service.py) and compose start the same programs."""
    services = resolved["services"]
    from tracktracker_assets.services.dagster import FRONT_MODULE

    webserver, daemon = _command(services["webserver"]), _command(services["daemon"])
    # the Dagster UI only behind TrackTracker's front, never the stock (unprotected) dagster-webserver
    assert webserver[:3] == ["python", "-m", FRONT_MODULE] and "-w" in webserver
    assert not any("dagster-webserver" in " ".join(_command(s)) for s in services.values() if "command" in s)
    assert daemon[:2] == ["dagster-daemon", "run"] and "-w" in daemon
    local_source = (REPO / "tracktracker_assets" / "services" / "dagster.py").read_text()
    assert (
        '[sys.executable, "-m", FRONT_MODULE, "-w"' in local_source
        and '_bin("dagster-daemon"), "run", "-w"' in local_source
        and '_bin("dagster-webserver")' not in local_source
    )
    # the healthcheck polls the one path the front leaves open
    assert "/server_info" in " ".join(services["webserver"]["healthcheck"]["test"])
    # the code location: the module local mode's workspace.yaml loads, served over gRPC in compose
    local_workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    module = local_workspace["load_from"][0]["python_module"]["module_name"]
    assert _command(services["user-code"])[-2:] == ["-m", module]
    remote = yaml.safe_load((REPO / "deploy" / "workspace.yaml").read_text())["load_from"][0]["grpc_server"]
    assert remote["host"] == "user-code" and str(remote["port"]) in _command(services["user-code"])
    # Superset: `tracktracker superset serve` runs bi.service.gunicorn_argv, as `up` does
    assert _command(services["superset"])[:3] == ["tracktracker", "superset", "serve"]
    assert _command(services["init"]) == ["tracktracker", "init"]
    assert _command(services["provision"]) == ["tracktracker", "superset", "provision"]


def test_settings_are_local_modes_settings(resolved: dict) -> None:
    documented = set(
        re.findall(
            r"\b((?:TRACKTRACKER|SUPERSET)_[A-Z_]+)\b",
            (REPO / "tracktracker_assets" / "settings.py").read_text(),
        )
    )
    for name, service in resolved["services"].items():
        if name in ("postgres", "mongo", "redis", "broker"):
            continue
        env = service["environment"]
        used = {k for k in env if k.startswith(("TRACKTRACKER_", "SUPERSET_"))}
        assert used <= documented, (name, used - documented)
        assert env["TRACKTRACKER_HOME"] == "/data"
        assert env["TRACKTRACKER_MONGO_URL"] == _mongo_url(resolved)
        if name == "superset":
            continue  # nothing of the warehouse owner: test_superset_is_given_nothing_of_the_warehouse_owner
        assert env["DAGSTER_HOME"].startswith("/data")
        assert env["TRACKTRACKER_DATABASE_URL"].startswith("postgresql://tracktracker:")
        assert env["TRACKTRACKER_DATABASE_URL"].endswith("@postgres:5432/tracktracker")
        assert env["TRACKTRACKER_DAGSTER_DATABASE_URL"].endswith("@postgres:5432/dagster")
    # the Dagster UI's passwords are in the environment of the one service that checks them
    for name, service in resolved["services"].items():
        env = service.get("environment", {})
        has_logins = {
            "TRACKTRACKER_DAGSTER_OPERATOR_PASSWORD",
            "TRACKTRACKER_DAGSTER_VIEWER_PASSWORD",
        } <= set(env)
        assert has_logins == (name == "webserver"), name
    webserver_env = resolved["services"]["webserver"]["environment"]
    assert (
        webserver_env["TRACKTRACKER_DAGSTER_OPERATOR_PASSWORD"]
        != webserver_env["TRACKTRACKER_DAGSTER_VIEWER_PASSWORD"]
    )
    # the instance configuration is the same file in both modes (init copies it into DAGSTER_HOME)
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "uv sync --frozen" in dockerfile and "dbt parse" in dockerfile


def _mongo_url(resolved: dict) -> str:
    """The registry URL every TrackTracker service gets: local mode's (same user, same options), on the
    mongo service, with the password the mongo service creates its user with."""
    from tracktracker_assets.settings import MONGO_USER, registry_url

    mongo_env = resolved["services"]["mongo"]["environment"]
    assert mongo_env["MONGO_INITDB_ROOT_USERNAME"] == MONGO_USER
    password = mongo_env["MONGO_INITDB_ROOT_PASSWORD"]
    assert password == "not-a-real-secret-mongo_password"
    return registry_url("mongo", 27017, password)


def test_mongo_requires_the_login_local_mode_uses(resolved: dict) -> None:
    mongo = resolved["services"]["mongo"]
    assert urlsplit(_mongo_url(resolved)).query == "authSource=admin"
    # the healthcheck logs in (mongo answers `ping` without a login), the password not in its argv
    check = " ".join(mongo["healthcheck"]["test"])
    assert "auth(process.env.MONGO_INITDB_ROOT_USERNAME, process.env.MONGO_INITDB_ROOT_PASSWORD)" in check
    assert "listDatabases" in check and "not-a-real-secret" not in check
    assert not mongo.get("ports"), "the registry is reached only inside the compose network"


def test_superset_is_given_nothing_of_the_warehouse_owner(resolved: dict) -> None:
    """Superset's queries log in as the reader or a listener's role and its metadata as superset_meta:
    its container holds no owner, Dagster or metadata-role-creating credentials."""
    services = resolved["services"]
    env = services["superset"]["environment"]
    owner_password = "not-a-real-secret-postgres_password"
    assert not [k for k, v in env.items() if owner_password in str(v)], env
    assert "TRACKTRACKER_DATABASE_URL" not in env and "TRACKTRACKER_DAGSTER_DATABASE_URL" not in env
    assert env["TRACKTRACKER_SUPERSET_DATABASE_URL"].startswith("postgresql://superset_meta:")
    assert env["TRACKTRACKER_SUPERSET_DATABASE_URL"].endswith("@postgres:5432/superset")
    assert "TRACKTRACKER_SUPERSET_READER_PASSWORD" in env
    # init creates superset_meta with the same password Superset connects with
    init = services["init"]["environment"]
    assert init["TRACKTRACKER_SUPERSET_METADATA_PASSWORD"] in env["TRACKTRACKER_SUPERSET_DATABASE_URL"]


def test_superset_caches_in_redis(resolved: dict) -> None:
    """Superset's workers share one chart cache: the official Redis image, reached only inside the
    compose network, with a password, memory only; Superset waits for it and is given its URL."""
    services = resolved["services"]
    redis = services["redis"]
    assert redis["image"].split(":")[0] == "redis"
    assert not redis.get("ports"), "the cache is reached only inside the compose network"
    password = redis["environment"]["REDIS_PASSWORD"]
    assert password == "not-a-real-secret-redis_password"
    # `config` prints the file's `$$` (a literal `$` for the container's shell) still escaped
    command = " ".join(_command(redis)).replace("$$", "$")
    assert '--requirepass "$REDIS_PASSWORD"' in command and password not in command
    assert "--maxmemory " in command and "--save ''" in command
    check = " ".join(redis["healthcheck"]["test"]).replace("$$", "$")
    assert 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli ping' in check and password not in check
    superset = services["superset"]
    assert superset["depends_on"]["redis"]["condition"] == "service_healthy"
    url = urlsplit(superset["environment"]["TRACKTRACKER_SUPERSET_CACHE_REDIS_URL"])
    assert (url.scheme, url.hostname, url.port, url.password) == ("redis", "redis", 6379, password)
    # erasure empties the cache from the containers that run it
    for name in ("init", "user-code", "daemon", "webserver"):
        assert services[name]["environment"]["TRACKTRACKER_SUPERSET_CACHE_REDIS_URL"] == url.geturl(), name
    # the cache is on unless someone turns it off
    assert "TRACKTRACKER_SUPERSET_CACHE" not in superset["environment"]


# ---- profile `scale`: Celery broker and workers ----------------------------------------------------
def test_the_default_profile_starts_no_broker_and_no_worker(resolved: dict) -> None:
    services = resolved["services"]
    assert {name for name, s in services.items() if s.get("profiles")} <= SCALE
    assert all(services[name]["profiles"] == ["scale"] for name in SCALE & set(services))
    for name, service in _default_services(resolved).items():  # nothing started by default waits on them
        assert not SCALE & set(service.get("depends_on", {})), name
    # and the Dagster services run steps in process, as before
    for name in (*DAGSTER_SERVICES, "init"):
        assert services[name]["environment"]["TRACKTRACKER_EXECUTOR"] == "in_process", name


def test_the_scale_profile_runs_workers_like_the_dagster_services(resolved_scale: dict) -> None:
    """The workers are the Dagster services' image, volume and settings, and every process that starts
    or runs steps (code server, daemon, webserver, workers) agrees on the executor and the broker."""
    services = resolved_scale["services"]
    assert set(services) >= SCALE
    worker, daemon = services["worker"], services["daemon"]
    assert _command(worker) == ["tracktracker", "worker"]
    assert worker["deploy"]["replicas"] >= 2
    for key in ("image", "build", "volumes", "restart"):
        assert worker[key] == daemon[key], key
    env = worker["environment"]
    assert env["TRACKTRACKER_EXECUTOR"] == "celery"
    for name in DAGSTER_SERVICES:
        other = services[name]["environment"]
        assert {k: other.get(k) for k in env} == env, name  # the same settings, every one
    assert env == services["init"]["environment"]
    assert "TRACKTRACKER_EXECUTOR" not in services["superset"]["environment"]  # Superset runs no steps
    # the workers wait for the broker and for init (databases migrated, Dagster home made)
    assert worker["depends_on"]["broker"]["condition"] == "service_healthy"
    assert worker["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_the_broker_keeps_what_it_is_given(resolved_scale: dict) -> None:
    """Its own Redis, with its own password, reached only inside the compose network; it never evicts a
    queued step and keeps them on disk (the chart cache does neither: test_superset_caches_in_redis)."""
    services = resolved_scale["services"]
    broker = services["broker"]
    assert broker["image"].split(":")[0] == "redis" and not broker.get("ports")
    password = broker["environment"]["BROKER_PASSWORD"]
    assert password == "not-a-real-secret-broker_password"
    assert password != services["redis"]["environment"]["REDIS_PASSWORD"]
    command = " ".join(_command(broker)).replace("$$", "$")
    assert '--requirepass "$BROKER_PASSWORD"' in command and password not in command
    assert "--maxmemory-policy noeviction" in command and "--appendonly yes" in command
    assert 'test -n "$BROKER_PASSWORD"' in command  # an empty password refuses to start
    volume = broker["volumes"][0]
    mount = (volume["source"], volume["target"]) if isinstance(volume, dict) else tuple(volume.split(":")[:2])
    assert mount == ("brokerdata", "/data")
    assert "brokerdata" in resolved_scale["volumes"]
    check = " ".join(broker["healthcheck"]["test"]).replace("$$", "$")
    assert 'REDISCLI_AUTH="$BROKER_PASSWORD" redis-cli ping' in check and password not in check
    env = services["worker"]["environment"]
    broker_url = urlsplit(env["TRACKTRACKER_CELERY_BROKER_URL"])
    backend_url = urlsplit(env["TRACKTRACKER_CELERY_BACKEND_URL"])
    for url in (broker_url, backend_url):
        assert (url.scheme, url.hostname, url.port, url.password) == ("redis", "broker", 6379, password)
    assert broker_url.path != backend_url.path  # queues and results in different databases
