"""An offline package index for tests: installed distributions repacked as wheels, and tiny sdists.

pip installs from a ``--find-links`` folder with ``--no-index`` and no config files
(``PIP_CONFIG_FILE=os.devnull``, pip's documented way to load none), so a test can build a
venv from an empty cache without the network: :func:`repack` writes the wheels of the
distributions this interpreter already has (their files as ``RECORD`` lists them, the
original ``WHEEL`` tag kept), and :func:`sdist` writes a source distribution whose build
backend lives in the archive (no setuptools needed to read its metadata).
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import zipfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement

# A PEP 517 backend of a few lines, shipped inside the sdist (backend-path): pip asks it for
# the metadata when it downloads the sdist, and for a wheel when it installs it.
BACKEND = '''import os, zipfile


def _meta():
    return open("PKG-INFO").read()


def _name():
    info = dict(l.split(": ", 1) for l in _meta().splitlines() if ": " in l)
    return info["Name"].replace("-", "_") + "-" + info["Version"]


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(directory, config_settings=None):
    info = os.path.join(directory, _name() + ".dist-info")
    os.makedirs(info)
    open(os.path.join(info, "METADATA"), "w").write(_meta())
    return _name() + ".dist-info"


def build_wheel(directory, config_settings=None, metadata_directory=None):
    path = _name() + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, path), "w") as zf:
        for name in os.listdir("."):
            if name.endswith(".py") and name != "backend.py":
                zf.write(name, name)
        zf.writestr(_name() + ".dist-info/METADATA", _meta())
        zf.writestr(_name() + ".dist-info/WHEEL", "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
        zf.writestr(_name() + ".dist-info/RECORD", "")
    return path
'''


def offline_pip_env(folder: Path) -> dict[str, str]:
    """The environment variables that make every pip run install only from ``folder``."""
    return {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(folder),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1"}


def _closure(names: list[str]) -> list[str]:
    """``names`` and everything they require at run time here (markers evaluated, no extras)."""
    seen: dict[str, None] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen[key] = None
        for line in distribution(name).requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                try:
                    distribution(req.name)
                except PackageNotFoundError:
                    continue
                todo.append(req.name)
    return list(seen)


def repack(names: list[str], folder: Path) -> list[Path]:
    """Wheels of the installed distributions ``names`` and their run-time requirements, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name in _closure(names):
        dist = distribution(name)
        tags = re.findall(r"^Tag: (\S+)$", dist.read_text("WHEEL") or "", re.MULTILINE) or ["py3-none-any"]
        stem = f"{re.sub(r'[-_.]+', '_', dist.metadata['Name'])}-{dist.version}"
        path = folder / f"{stem}-{tags[0]}.whl"
        with zipfile.ZipFile(path, "w") as zf:
            for rel in dist.files or []:
                text = str(rel)
                if text.startswith("..") or "__pycache__" in text or text.endswith("direct_url.json"):
                    continue
                src = Path(dist.locate_file(rel))
                if src.is_file():
                    zf.write(src, text)
        out.append(path)
    return out


def wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """``folder/NAME-VERSION-py3-none-any.whl`` holding ``files`` (a pure-Python distribution)."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for rel, text in files.items():
            zf.writestr(rel, text)
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")
    return path


def sdist(folder: Path, name: str, version: str, files: dict[str, str], build_requires: tuple[str, ...] = ()) -> Path:
    """``folder/NAME-VERSION.tar.gz``: ``files`` under one top folder, PKG-INFO and the in-tree backend,
    which imports each module of ``build_requires`` first (so it builds only where they are installed)."""
    folder.mkdir(parents=True, exist_ok=True)
    requires = ", ".join(f'"{r}"' for r in build_requires)
    files = {"PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             "pyproject.toml": f'[build-system]\nrequires = [{requires}]\nbuild-backend = "backend"\n'
                               'backend-path = ["."]\n',
             "backend.py": "".join(f"import {r}\n" for r in build_requires) + BACKEND, **files}
    return tarball(folder, name, version, files)


def tarball(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """``folder/NAME-VERSION.tar.gz`` with ``files`` (relative path -> text) under one top folder,
    as an sdist has, and a PKG-INFO unless ``files`` has one (no build backend: a source to read)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", **files}
    path = folder / f"{name}-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}-{version}/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path
