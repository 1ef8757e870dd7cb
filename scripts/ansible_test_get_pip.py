"""Stand-in for the get-pip.py bootstrap that ansible-test downloads from a host this machine
cannot reach. ansible-test runs it inside each fresh sanity venv with pip-install arguments
(e.g. pip==25.2); Python's own ensurepip puts a pip there, which then installs them from PyPI."""

import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
# get-pip.py's own flags; pip install does not know them.
arguments = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *arguments]))
