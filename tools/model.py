"""Train only when something that shapes the model changed, and name models by their inputs.

A model's name says when it was trained and from which data: ``YYYYMMDD-HHMMSS-<fingerprint>``
where the fingerprint hashes everything that goes into training (config, domain, training data,
our NLU components' code and the pinned environment). Rasa's own fingerprint ignores the code of
custom components; ours does not. Models are kept in ``models/`` and, when ``MODEL_CACHE_DIR`` is
set (CI), copied there so a clean clone reuses a model trained from identical inputs.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bot.settings import ROOT
from tools.env import child_env, python, rel

MODELS_DIR = ROOT / "models"


def _inputs_for(config: str) -> list[str]:
    """What a model trained with ``config`` depends on: our components' code only if it uses them."""
    inputs = [config, "domain.yml", "nlu_data", "requirements.lock"]
    config_path = ROOT / config
    if config_path.exists() and "bot." in config_path.read_text(encoding="utf-8"):
        inputs += ["bot/nlu", "bot/vietnamese"]  # the components and the text they normalise
    return inputs


def _files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = ROOT / name
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            )
        elif path.is_file():
            files.append(path)
    return files


def fingerprint(config: str = "config.yml") -> str:
    """Hash of every training input: file names and contents, in a stable order."""
    digest = hashlib.sha256()
    for path in _files(_inputs_for(config)):
        digest.update(rel(path).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def cache_dir() -> Path | None:
    raw = os.environ.get("MODEL_CACHE_DIR")
    return Path(raw) if raw else None


def find_model(fp: str) -> Path | None:
    """A model trained from exactly these inputs, in models/ or the cache (copied in)."""
    for directory in (MODELS_DIR, cache_dir()):
        if directory is None or not directory.is_dir():
            continue
        matches = sorted(directory.glob(f"*-{fp}.tar.gz"))
        if matches:
            found = matches[-1]
            if directory != MODELS_DIR:
                MODELS_DIR.mkdir(exist_ok=True)
                shutil.copy2(found, MODELS_DIR / found.name)
                sidecar = found.with_suffix("").with_suffix(".json")
                if sidecar.exists():
                    shutil.copy2(sidecar, MODELS_DIR / sidecar.name)
                found = MODELS_DIR / found.name
            return found
    return None


def latest_model() -> Path | None:
    """The newest model of the project's own pipeline (benchmark baselines are named ``-alt``)."""
    models = sorted(
        (p for p in MODELS_DIR.glob("*.tar.gz") if "-alt" not in p.name),
        key=lambda p: p.stat().st_mtime,
    )
    return models[-1] if models else None


@dataclass(frozen=True)
class TrainResult:
    path: Path
    trained: bool
    seconds: float


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def train(*, force: bool = False, config: str = "config.yml", quiet: bool = False) -> TrainResult:
    """Return a model for the current inputs, training one only when none exists."""
    fp = fingerprint(config) if config == "config.yml" else "alt" + fingerprint(config)[:9]
    MODELS_DIR.mkdir(exist_ok=True)
    # Two commands training the same inputs at once (a benchmark beside `./mttq test`): the
    # second waits for the first and reuses its model.
    with open(MODELS_DIR / f".train-{fp}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force:
            existing = find_model(fp)
            if existing is not None:
                print(f"Model up to date: {rel(existing)} (inputs unchanged, fingerprint {fp})")
                return TrainResult(existing, False, 0.0)
        return _train(fp, config, quiet)


def _train(fp: str, config: str, quiet: bool) -> TrainResult:
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{fp}"
    print(f"Training model {name} ...", flush=True)
    started = time.monotonic()
    # Rasa's ``train``, without hashing the featurised training data after every component
    # (tools/rasa_train.py: about a third of the training time), and without repeating Rasa's
    # data validation: ``./mttq validate`` runs it (``rasa data validate``, then the project's
    # own checks), as the trainer's first step and CI's step before training; inside ``train``
    # it only warned, and took 10 of 110 seconds on stop 39's machine.
    cmd = [
        python(), "-m", "tools.rasa_train",
        "--config", config,
        "--domain", "domain.yml",
        "--data", "nlu_data",
        "--out", str(MODELS_DIR),
        "--fixed-model-name", name,
        "--skip-validation",
    ]
    result = subprocess.run(
        cmd,
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
        text=True,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        if quiet and result.stdout:
            print(result.stdout[-5000:])
        raise SystemExit(f"Training failed (rasa train exited {result.returncode}).")
    path = MODELS_DIR / f"{name}.tar.gz"
    meta = {
        "name": name,
        "fingerprint": fp,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": _git_commit(),
        "config": config,
        "training_seconds": round(seconds, 1),
        "inputs": [rel(p) for p in _files(_inputs_for(config))],
    }
    (MODELS_DIR / f"{name}.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    cache = cache_dir()
    if cache is not None and config == "config.yml":
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, cache / path.name)
        shutil.copy2(MODELS_DIR / f"{name}.json", cache / f"{name}.json")
    print(f"Trained {rel(path)} in {seconds:.0f} s")
    return TrainResult(path, True, seconds)
