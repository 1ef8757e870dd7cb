"""The unit tests: pure Python, on the working tree's collection (see working_tree.py).

A unit test starts no program, no process and no server: it needs nothing on the machine but this venv,
and its result does not depend on the machine's load. Tests that run haproxy, ansible-playbook,
ansible-doc, tar, a script or a server on loopback live in tests/integration/, in the same sub-directory;
the guard below fails any unit test that tries to start a process, so none slips back in.
"""

from __future__ import annotations

import _posixsubprocess
import asyncio
import importlib
import os
import subprocess

import pytest
import working_tree

filters = working_tree.filters

# Two of Ansible's modules look for a C library with ctypes.util.find_library when first imported (display:
# libc, encrypt: libcrypt), and on Linux that runs `ldconfig -p`. Tests import them indirectly (an
# AnsibleFilterError's message, the builtin filters a template loads): import them here, once, before the
# guard, so the processes Ansible itself starts on import are not started by a test.
for module in ("ansible.utils.display", "ansible.utils.encrypt"):
    importlib.import_module(module)


def pytest_configure(config):
    working_tree.require_collection_link()


# Every way the standard library starts another process: (owner, attribute, name in the message).
# subprocess.Popen also covers subprocess.run/check_output, os.popen and asyncio's subprocess transports;
# os.fork/forkpty cover pty and multiprocessing's fork; _posixsubprocess.fork_exec its spawn and forkserver.
PROCESS_STARTERS = [
    (subprocess.Popen, "__init__", "subprocess.Popen"),
    (os, "system", "os.system"),
    (os, "posix_spawn", "os.posix_spawn"),
    (os, "posix_spawnp", "os.posix_spawnp"),
    (os, "spawnv", "os.spawnv"),
    (os, "spawnve", "os.spawnve"),
    (os, "spawnvp", "os.spawnvp"),
    (os, "spawnvpe", "os.spawnvpe"),
    (os, "fork", "os.fork"),
    (os, "forkpty", "os.forkpty"),
    (_posixsubprocess, "fork_exec", "_posixsubprocess.fork_exec"),
    (asyncio, "create_subprocess_exec", "asyncio.create_subprocess_exec"),
    (asyncio, "create_subprocess_shell", "asyncio.create_subprocess_shell"),
    (asyncio.subprocess, "create_subprocess_exec", "asyncio.subprocess.create_subprocess_exec"),
    (asyncio.subprocess, "create_subprocess_shell", "asyncio.subprocess.create_subprocess_shell"),
    (asyncio.BaseEventLoop, "subprocess_exec", "loop.subprocess_exec"),
    (asyncio.BaseEventLoop, "subprocess_shell", "loop.subprocess_shell"),
]


def refusal(name):
    """A stand-in for a process starter that fails the running test and says where the test belongs."""

    def refuse(*args, **_kwargs):
        # The command: the first argument that names a program (not Popen's self, a spawn mode or a factory).
        commands = [arg for arg in args if isinstance(arg, (str, bytes, os.PathLike, list, tuple))]
        command = repr(commands[0]) if commands else ""
        pytest.fail(f"{name}({command}) in a unit test: tests/unit is pure Python and starts no program or process. "
                    "A test that runs one belongs in tests/integration/, in the same sub-directory as here.")

    return refuse


@pytest.fixture(scope="module", autouse=True)
def no_processes():
    """Every unit test module runs with the process starters replaced by refusal().

    Module scope, so module-scoped fixtures are guarded too (they are set up after this autouse one);
    restored when the module ends, so tests/integration run in the same session are not affected.
    """
    with pytest.MonkeyPatch.context() as patch:
        for owner, attribute, name in PROCESS_STARTERS:
            patch.setattr(owner, attribute, refusal(name))
        yield
