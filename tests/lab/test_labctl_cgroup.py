"""`make test` runs the work it times nothing in under a cgroup with a tenth of the CPU weight, lab hosts
included (scripts/test.sh, "the background lane"): labctl creates a lab's hosts under the cgroup that
DBSTACK_LAB_CGROUP_PARENT names, and a host the drills stop and start again stays there. Runs real
podman (root), on a one-host lab of its own."""

import os
import subprocess
from pathlib import Path

import pytest
from lab_cli import labctl

NAME, SUBNET = "dbstack-cgrouptest", "10.213.98.0/24"
CONTAINER = f"{NAME}-h1"
PARENT = "dbstack_cgrouptest"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not Path("/sys/fs/cgroup/cpu/cpu.shares").exists(),
                                reason="rootful podman on cgroup v1's cpu controller, as make test needs")


@pytest.fixture
def lab(tmp_path):
    labctl("down", "--name", NAME)
    Path(f"/sys/fs/cgroup/cpu/{PARENT}").mkdir(exist_ok=True)
    labctl("up", "--name", NAME, "--subnet", SUBNET, "--inventory", str(tmp_path / "hosts.yml"),
           "--hosts", "h1:test", env={"DBSTACK_LAB_CGROUP_PARENT": f"/{PARENT}"})
    yield
    labctl("down", "--name", NAME)
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        for left in sorted(hierarchy.glob(f"{PARENT}/**/"), key=lambda p: len(p.parts), reverse=True):
            left.rmdir()


def cpu_cgroup_of_pid_1():
    cgroups = subprocess.run(["podman", "exec", CONTAINER, "cat", "/proc/1/cgroup"], capture_output=True,
                             text=True, check=True).stdout
    return next(line.split(":", 2)[2] for line in cgroups.splitlines() if line.split(":")[1] == "cpu")


def test_hosts_run_under_the_parent_cgroup_even_after_a_restart(lab):
    assert cpu_cgroup_of_pid_1().startswith(f"/{PARENT}/libpod-")
    subprocess.run(["podman", "stop", "-t", "2", CONTAINER], check=True, capture_output=True)
    subprocess.run(["podman", "start", CONTAINER], check=True, capture_output=True)
    assert cpu_cgroup_of_pid_1().startswith(f"/{PARENT}/libpod-")
