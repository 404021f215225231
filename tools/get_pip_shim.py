"""Stand-in for the get-pip bootstrap script that ansible-test downloads from its CI file server.

ansible-test (sanity) creates a virtual environment per test and bootstraps pip in it by running
``get-pip-<version>.py`` with pip's install arguments. That server is not reachable from every
network (ours only reaches PyPI), and ansible-test accepts a pre-seeded copy in
``~/.ansible/test/cache``. This shim does the same job with the standard library: ``ensurepip``
installs the bundled pip, which then installs the requested packages from the package index.
"""

from __future__ import annotations

import subprocess
import sys

if __name__ == "__main__":
    # ensurepip in a child process: in-process it clears PIP_* and sets PIP_CONFIG_FILE=/dev/null
    # in os.environ, which would hide the user's pip configuration from the install below.
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
