"""requirements.lock, which the image installs, holds every runtime dependency of
pyproject.toml, at a version its range allows, with hashes (`make lock` makes it again)."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.paths import ROOT

PINNED = re.compile(r"(?m)^([A-Za-z0-9_.\-]+)==(\S+) \\\n((?:\s+--hash=sha256:[0-9a-f]{64}.*\n)+)")


def test_the_lock_pins_every_runtime_dependency_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = {
        canonicalize_name(name): version
        for name, version, _hashes in PINNED.findall((ROOT / "requirements.lock").read_text())
    }
    for line in project["dependencies"]:
        wanted = Requirement(line)
        version = locked.get(canonicalize_name(wanted.name))
        assert version is not None, f"{wanted.name} is not in requirements.lock: make lock"
        assert wanted.specifier.contains(version), f"{wanted.name}=={version} not {wanted}"
