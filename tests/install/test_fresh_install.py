"""The install a newcomer runs, on the oldest interpreter we support, with its stock pip.

A new venv's pip is whatever the interpreter shipped (Debian's 3.11: pip 23.0.1),
and pips before 23.3 cannot install a hash-pinned lock whose packages ask each
other for extras. `make venv` must not depend on it: this runs the real target
into a fresh venv and imports what the entry points import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRY_POINTS = "import worker, starter, mcp_server"


def oldest_python() -> str:
    """TTAI_OLDEST_PYTHON, else the distribution's python3.11 (its stock pip is the oldest)."""
    for candidate in (os.environ.get("TTAI_OLDEST_PYTHON"), "/usr/bin/python3.11"):
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("python3.11")
    if found is None:
        pytest.fail("no Python 3.11 to test the install with: set TTAI_OLDEST_PYTHON")
    return found


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=900, **kwargs)


@pytest.mark.timeout(900)
def test_make_venv_installs_the_lock_with_the_stock_pip_of_the_oldest_python(
    tmp_path: Path,
) -> None:
    python = oldest_python()
    venv = tmp_path / "venv"
    # Only the Makefile's own variables change: the venv goes to a temporary folder.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MAKEFLAGS")}
    installed = run(["make", "-C", str(ROOT), "venv", f"PYTHON={python}", f"VENV={venv}"], env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    stock_pip = run([str(venv / "bin/python"), "-m", "pip", "--version"])
    version = run([str(venv / "bin/python"), "-c", "import sys; print(sys.version_info[:2])"])
    assert version.stdout.strip() == "(3, 11)", f"{python} is not 3.11: {stock_pip.stdout}"

    # Compiled at install (as pip does): a venv whose caches cannot be written
    # (PYTHONDONTWRITEBYTECODE, a read-only image) would compile at every start.
    [site_packages] = (venv / "lib").glob("python3.11/site-packages")
    for package in ("temporalio", "mcp", "pydantic"):
        assert list((site_packages / package / "__pycache__").glob("__init__.*.pyc")), package

    imported = run([str(venv / "bin/python"), "-c", ENTRY_POINTS], cwd=ROOT)
    assert imported.returncode == 0, imported.stderr
    for binary in ("temporal", "temporal-test-server"):
        assert (venv / "bin" / binary).is_file(), f"{binary} missing from the venv"
    served = run([str(venv / "bin/temporal"), "--version"])
    assert served.returncode == 0 and "temporal version" in served.stdout, served.stderr
