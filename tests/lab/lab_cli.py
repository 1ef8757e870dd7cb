"""labctl as the tests run it: the checkout's lab/labctl, output captured, a failure showing it."""

import os
import subprocess
from pathlib import Path

LABCTL = Path(__file__).resolve().parents[2] / "lab" / "labctl"


def labctl(*args, check=True, env=None):
    result = subprocess.run([str(LABCTL), *args], capture_output=True, text=True, timeout=300, check=False,
                            env={**os.environ, **(env or {})})
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result
