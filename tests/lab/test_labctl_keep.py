"""lab/labctl keeps a lab that exists in the asked shape (`up --keep`, and `deploy`, which `make lab`
runs): its containers and their data stay, stopped hosts are started; a lab in another shape is
refused with nothing changed. Runs real podman (root), on a one-host lab of its own."""

import os
import subprocess

import pytest
from lab_cli import labctl

NAME, SUBNET = "dbstack-keeptest", "10.213.96.0/24"
CONTAINER = f"{NAME}-h1"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="rootful podman: run as root (CI does)")


@pytest.fixture
def lab(tmp_path):
    inventory = tmp_path / "hosts.yml"
    common = ["--name", NAME, "--subnet", SUBNET, "--inventory", str(inventory)]
    labctl("down", "--name", NAME)
    labctl("up", *common, "--hosts", "h1:test")
    yield common
    labctl("down", "--name", NAME)


def marker():
    return subprocess.run(["podman", "exec", CONTAINER, "cat", "/root/marker"], capture_output=True, text=True,
                          check=False).stdout


def test_keep_leaves_the_data_and_starts_a_stopped_host(lab):
    subprocess.run(["podman", "exec", CONTAINER, "sh", "-c", "echo kept > /root/marker"], check=True)
    subprocess.run(["podman", "stop", "-t", "2", CONTAINER], check=True, capture_output=True)
    result = labctl("up", *lab, "--hosts", "h1:test", "--keep")
    assert f"lab {NAME} kept as it is" in result.stderr + result.stdout
    assert f"started {CONTAINER}" in result.stderr + result.stdout
    assert marker() == "kept\n"


def test_keep_refuses_another_shape_and_changes_nothing(lab):
    subprocess.run(["podman", "exec", CONTAINER, "sh", "-c", "echo kept > /root/marker"], check=True)
    result = labctl("up", *lab, "--hosts", "h1:test,h2:test", "--keep", check=False)
    assert result.returncode == 1
    assert f"lab {NAME} exists in another shape: {NAME}-h2 is missing. Nothing was changed." in result.stderr
    assert marker() == "kept\n"
