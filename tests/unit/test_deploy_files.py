"""The Docker deployment's files agree with each other and with the production instance.

No Docker here: these are the mistakes that would only show when the stack is started (a run
container missing a variable, a network or image name that does not match, the Docker instance
drifting from deploy/dagster.yaml). tests/integration/test_deploy_config.py loads the instance
itself on PostgreSQL.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def env_file_names(path: Path) -> list[str]:
    return [
        line.split("=", 1)[0].strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_docker_instance_is_the_production_instance_plus_the_run_launcher():
    docker = load("dagster-docker.yaml")
    launcher = docker.pop("run_launcher")
    assert docker == load("dagster.yaml")
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    assert "run_launcher" not in load("dagster.yaml")  # one machine: the default launcher


def test_run_containers_get_every_variable_of_the_env_files_and_nothing_unset():
    # The launcher copies each listed name from the daemon's environment and refuses to launch
    # when one is not set: every name must be a line of the env files the daemon reads.
    forwarded = load("dagster-docker.yaml")["run_launcher"]["config"]["env_vars"]
    in_files = [
        name
        for file in ("npnflow.env.example", "dagster.env.example")
        for name in env_file_names(DEPLOY / file)
    ]
    assert len(forwarded) == len(set(forwarded))
    assert len(in_files) == len(set(in_files))
    assert set(forwarded) == set(in_files)
    daemon = load("docker-compose.yaml")["services"]["daemon"]
    assert sorted(daemon["env_file"]) == ["dagster.env", "npnflow.env"]


def test_compose_names_match_the_instance_the_workspace_and_the_image():
    compose = load("docker-compose.yaml")
    services = compose["services"]
    launcher = load("dagster-docker.yaml")["run_launcher"]["config"]
    # Run containers join the compose network by its fixed name.
    assert compose["networks"]["npnflow"]["name"] == launcher["network"]
    # The code server advertises its own image as the one runs start from.
    code = services["code"]
    assert code["environment"]["DAGSTER_CURRENT_IMAGE"] == code["image"]
    assert {s["image"] for s in services.values()} == {code["image"]}
    # The webserver and the daemon reach the code server where it listens.
    workspace = load("workspace-docker.yaml")["load_from"][0]["grpc_server"]
    command = code["command"]
    assert workspace["host"] == "code"
    assert str(workspace["port"]) == command[command.index("-p") + 1]
    assert workspace["location_name"] == command[command.index("--location-name") + 1]
    for name in ("webserver", "daemon"):
        assert "deploy/workspace-docker.yaml" in services[name]["command"]
    # The webserver needs Dagster's storage, not npnflow's secrets.
    assert services["webserver"]["env_file"] == ["dagster.env"]
    # Every env file a service reads has its template.
    for service in services.values():
        for env_file in service.get("env_file", []):
            assert (DEPLOY / f"{env_file}.example").exists(), env_file


def test_image_installs_the_docker_launcher_of_the_pinned_dagster_release():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    libraries = next(p.split("==")[1] for p in pins if p.startswith("dagster-postgres=="))
    assert f"dagster-docker=={libraries}" in dockerfile
    assert "-c constraints.txt" in dockerfile
    assert "npnflow reports prepare" in dockerfile
    # The files the image copies into deploy/ exist, and it is the Docker instance it installs.
    copied = re.search(r"^COPY (deploy/\S+ )+deploy/$", dockerfile, re.MULTILINE)
    assert copied is not None
    for path in copied.group(0).split()[1:-1]:
        assert (ROOT / path).exists(), path
    assert 'cp deploy/dagster-docker.yaml "$DAGSTER_HOME/dagster.yaml"' in dockerfile
    # An ENTRYPOINT would swallow the command DockerRunLauncher starts each run with.
    assert not re.search(r"^ENTRYPOINT", dockerfile, re.MULTILINE)


def test_secrets_stay_out_of_git_and_out_of_the_image():
    assert "deploy/*.env" in (ROOT / ".gitignore").read_text().splitlines()
    assert "deploy/*.env" in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    # The templates carry no secret values.
    for file in ("npnflow.env.example", "dagster.env.example"):
        for line in (DEPLOY / file).read_text().splitlines():
            if re.match(r"(NIPR_PASSWORD|NPNFLOW_SSN_KEY|\w*SECRET\w*|\w*_PASSWORD)=", line):
                assert line.endswith("="), line
