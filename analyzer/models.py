"""Model registry: a model name -> a local folder, an installed package, or a hub id.

Entries live in ``models/models.toml``. Resolution never touches the network unless the
machine has one and ``HF_HUB_OFFLINE`` is unset, so tests and offline users fail fast
with the pip command that would make a model available.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from analyzer.errors import ModelError

_REPO_ROOT = Path(__file__).resolve().parents[1]
_MARKER = "chorus-model.json"  # written last by a join: its presence means complete
_BUILD_MARKER = "chorus-build.json"  # the same, for folders built by analyzer.e5_build

Origin = Literal["local", "package", "hub"]


@dataclass(frozen=True)
class ModelSpec:
    """One entry of models.toml."""

    kind: str  # "asr" or "embed"
    name: str
    engine: str
    description: str
    licence: str
    size_mb: int
    hub: str | None
    pip: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's weights are: a folder on disk, or a hub id to download."""

    spec: ModelSpec
    location: str
    origin: Origin


def registry_path() -> Path:
    """models.toml: the repository's copy, or the one packaged inside analyzer/."""
    for candidate in (_REPO_ROOT / "models" / "models.toml", Path(__file__).with_name("models.toml")):
        if candidate.is_file():
            return candidate
    raise ModelError("models.toml not found: reinstall Chorus (pip install -e .)")


def cache_dir() -> Path:
    """Where joined/built weights go: $CHORUS_MODELS_DIR, else models/cache in the repo."""
    configured = os.environ.get("CHORUS_MODELS_DIR")
    return Path(configured) if configured else _REPO_ROOT / "models" / "cache"


def load_registry() -> dict[tuple[str, str], ModelSpec]:
    data = tomllib.loads(registry_path().read_text(encoding="utf-8"))
    specs: dict[tuple[str, str], ModelSpec] = {}
    for kind, entries in data.items():
        for name, raw in entries.items():
            specs[(kind, name)] = ModelSpec(
                kind=kind,
                name=name,
                engine=raw["engine"],
                description=raw.get("description", ""),
                licence=raw.get("licence", "unknown"),
                size_mb=int(raw.get("size_mb", 0)),
                hub=raw.get("hub"),
                pip=raw.get("pip"),
                raw=raw,
            )
    return specs


def get_spec(kind: str, name: str) -> ModelSpec:
    specs = load_registry()
    if (kind, name) not in specs:
        known = ", ".join(sorted(n for k, n in specs if k == kind))
        raise ModelError(f"unknown {kind} model {name!r}; known: {known}")
    return specs[(kind, name)]


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _complete(folder: Path) -> bool:
    return (folder / _MARKER).is_file() or (folder / _BUILD_MARKER).is_file()


def _network_allowed() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") in ("", "0", "false", "False")


def _missing(spec: ModelSpec, why: str) -> ModelError:
    hint = f"pip install {spec.pip}" if spec.pip else "put the model folder in models/cache"
    return ModelError(f"{spec.kind} model {spec.name!r} is not available offline ({why}); fix: {hint}")


def _join_package(spec: ModelSpec, dest: Path) -> None:
    """Copy a package's model files and join split weights, verifying every SHA-256."""
    raw = spec.raw
    base = _package_dir(raw["package"])
    if base is None:
        raise _missing(spec, f"package {raw['package']} is not installed")
    parts: list[Path] = []
    for part in raw.get("join", []):
        part_base = _package_dir(part["package"])
        if part_base is None:
            raise _missing(spec, f"package {part['package']} is not installed")
        parts.append(part_base / part["file"])
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=dest.parent))
    try:
        for name in raw.get("files", []):
            shutil.copyfile(base / raw.get("package_dir", ".") / name, tmp / name)
        if parts:
            target = tmp / raw["join_to"]
            with target.open("wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 22)
            actual = _sha256(target)
            if actual != raw["sha256"]:
                raise ModelError(
                    f"{spec.name}: joined {raw['join_to']} has SHA-256 {actual}, expected "
                    f"{raw['sha256']}; the package upload changed: reinstall {spec.pip}"
                )
        (tmp / _MARKER).write_text(json.dumps({"name": spec.name, "origin": "package"}))
        tmp.chmod(0o755)
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _build(spec: ModelSpec, dest: Path) -> None:
    """Build a model folder from a package with a builder (e.g. dequantized e5-small)."""
    if spec.raw["build"] != "e5-small":
        raise ModelError(f"{spec.name}: unknown builder {spec.raw['build']!r}")
    from analyzer.e5_build import build_e5_small

    build_e5_small(dest)


def _package_folder(spec: ModelSpec) -> Path | None:
    """A package that ships a ready folder (no join, no build)."""
    raw = spec.raw
    if "package" not in raw or "join" in raw:
        return None
    base = _package_dir(raw["package"])
    if base is None:
        return None
    folder = base / raw.get("package_dir", ".")
    return folder if folder.is_dir() else None


def resolve(kind: str, name: str, prepare: bool = True) -> ResolvedModel:
    """Find a model's weights, joining or building them from an installed package once.

    Args:
        kind: "asr" or "embed".
        name: a name from models.toml, or a path to a model folder.
        prepare: join/build package weights into the cache if needed (else only look).
    """
    if os.path.isdir(name):
        spec = ModelSpec(kind, Path(name).name, "", "local folder", "unknown", 0, None, None, {})
        return ResolvedModel(spec, str(Path(name).resolve()), "local")
    spec = get_spec(kind, name)
    folder = cache_dir() / name
    if _complete(folder):
        return ResolvedModel(spec, str(folder), "local")
    ready = _package_folder(spec)
    if ready is not None:
        return ResolvedModel(spec, str(ready), "package")
    can_prepare = ("join" in spec.raw and _package_dir(spec.raw["package"]) is not None) or (
        "build" in spec.raw
    )
    if can_prepare and prepare:
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            if "join" in spec.raw:
                _join_package(spec, folder)
            else:
                _build(spec, folder)
        except ModelError:
            if not (spec.hub and _network_allowed()):
                raise
        else:
            return ResolvedModel(spec, str(folder), "package")
    if spec.hub and _network_allowed():
        return ResolvedModel(spec, spec.hub, "hub")
    raise _missing(spec, "no local folder, no installed package, and HF_HUB_OFFLINE is set")


def availability(spec: ModelSpec) -> str:
    """A one-word state for `chorus models`: ready, installable from package, hub, missing."""
    if _complete(cache_dir() / spec.name) or _package_folder(spec) is not None:
        return "ready"
    raw = spec.raw
    if "join" in raw and all(_package_dir(p["package"]) for p in raw["join"]):
        return "package (joined on first use)"
    if "build" in raw and all(_package_dir(p) for p in raw.get("requires", [])):
        return "package (built on first use)"
    if spec.hub and _network_allowed():
        return "hub (downloads on first use)"
    return "missing"
