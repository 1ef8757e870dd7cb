"""The guard of conftest.py: every way of starting a process fails a unit test, saying where it belongs.

Each attempt below would start the harmless `true` (or, for a fork, a child that exits at once) if the
guard let it through, so a broken guard shows as a failure here and never as a stray process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import subprocess

import pytest

TRUE = "/bin/true"


def fork_and_exit(fork):
    pid = fork()[0] if fork is os.forkpty else fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


async def asyncio_exec():
    process = await asyncio.create_subprocess_exec(TRUE)
    await process.wait()


async def asyncio_shell():
    process = await asyncio.create_subprocess_shell("true")
    await process.wait()


ATTEMPTS = {
    "subprocess.run": lambda: subprocess.run([TRUE], check=False),
    "subprocess.Popen": lambda: subprocess.Popen([TRUE]).wait(),
    "subprocess.check_output": lambda: subprocess.check_output([TRUE]),
    "os.popen": lambda: os.popen("true").close(),
    "os.system": lambda: os.system("true"),
    "os.posix_spawn": lambda: os.waitpid(os.posix_spawn(TRUE, [TRUE], os.environ), 0),
    "os.posix_spawnp": lambda: os.waitpid(os.posix_spawnp("true", ["true"], os.environ), 0),
    "os.spawnl": lambda: os.spawnl(os.P_WAIT, TRUE, "true"),
    "os.spawnvp": lambda: os.spawnvp(os.P_WAIT, "true", ["true"]),
    "os.fork": lambda: fork_and_exit(os.fork),
    "os.forkpty": lambda: fork_and_exit(os.forkpty),
    "multiprocessing spawn": lambda: multiprocessing.get_context("spawn").Process(target=os.getpid).start(),
    "asyncio.create_subprocess_exec": lambda: asyncio.run(asyncio_exec()),
    "asyncio.create_subprocess_shell": lambda: asyncio.run(asyncio_shell()),
}


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=list(ATTEMPTS))
def test_starting_a_process_fails_the_test_and_names_tests_integration(attempt):
    with pytest.raises(pytest.fail.Exception, match="belongs in tests/integration/"):
        ATTEMPTS[attempt]()
