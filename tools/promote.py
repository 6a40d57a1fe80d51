"""`./mttq promote`, one server: put a newly trained model live in a running Rasa server, and
take it back. :mod:`tools.promote_pool` does it for every replica of the pool, one at a time, and
holds the command line.

Uses Rasa's HTTP API (the server runs with ``--enable-api``): ``GET /status`` says which model
file is loaded, ``PUT /model`` with ``{"model_file": "<absolute path>"}`` loads another one
without a restart (Rasa keeps answering with the old model until the new one is loaded). When
``RASA_TOKEN`` is set it is sent as ``?token=``.

Every promote is recorded in ``var/promote-history.json`` (what was live before, what replaced
it, when), so ``rollback`` can put back the previous model, and a second rollback the one
before that.
"""

from __future__ import annotations

import json
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.service_secrets import read_secret
from bot.settings import ROOT, get_settings

MODELS_DIR = ROOT / "models"
HISTORY_NAME = "promote-history.json"
STATUS_TIMEOUT = 10.0
#: Loading a model takes seconds for our pipeline, a minute or more with DIET.
LOAD_TIMEOUT = 300.0


class PromoteError(Exception):
    """Why a promote, rollback or status did not happen (printed without a traceback)."""


@dataclass(frozen=True)
class PromoteResult:
    action: str  # "promote", "rollback" or "unchanged"
    rasa_url: str
    previous: str  # model file live before ("" when none was loaded)
    current: str  # model file live now, as Rasa reports it
    model_path: Path | None  # the file that was loaded
    seconds: float


# --------------------------------------------------------------------------- HTTP


def _url(rasa_url: str, path: str) -> str:
    url = rasa_url.rstrip("/") + path
    # RASA_TOKEN, else the one the launchers generated in var/secrets/ (bot.service_secrets).
    token = read_secret("RASA_TOKEN", get_settings().var_dir)
    if token:
        url += "?" + urllib.parse.urlencode({"token": token})
    return url


def _not_running(rasa_url: str) -> PromoteError:
    return PromoteError(f"Rasa is not running at {rasa_url}, start it with ./mttq run")


def _request(
    method: str, rasa_url: str, path: str, body: dict[str, Any] | None, timeout: float
) -> tuple[int, Any]:
    """(HTTP status, decoded JSON body or None). Raises PromoteError for transport problems
    and for answers Rasa gives when it refuses (401/403) or fails (5xx)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        _url(rasa_url, path),
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw.strip() else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            payload = json.loads(raw) if raw.strip() else None
        except json.JSONDecodeError:
            payload = raw.decode(errors="replace")[:300]
        if error.code in (401, 403):
            raise PromoteError(
                f"Rasa at {rasa_url} refused the request (HTTP {error.code}): set RASA_TOKEN "
                "to the server's --auth-token"
            ) from error
        return error.code, payload
    except TimeoutError as error:
        raise PromoteError(
            f"Rasa at {rasa_url} did not answer {method} {path} within {timeout:.0f} s"
        ) from error
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise PromoteError(
                f"Rasa at {rasa_url} did not answer {method} {path} within {timeout:.0f} s"
            ) from error
        raise _not_running(rasa_url) from error
    except (ConnectionError, OSError) as error:
        raise _not_running(rasa_url) from error


def _rasa_message(payload: Any) -> str:
    if isinstance(payload, dict):
        return str(payload.get("message") or payload.get("reason") or payload)
    return str(payload)


def _status(rasa_url: str, timeout: float = STATUS_TIMEOUT) -> dict[str, Any]:
    """Rasa's ``/status``; ``{}`` when the server runs without a loaded model (HTTP 409)."""
    code, payload = _request("GET", rasa_url, "/status", None, timeout)
    if code == 409:
        return {}
    if code != 200 or not isinstance(payload, dict):
        raise PromoteError(
            f"unexpected answer from {rasa_url}/status (HTTP {code}): {_rasa_message(payload)}"
        )
    return payload


def _model_id(status: dict[str, Any]) -> str:
    """Rasa 3.6 reports ``model_id``; some versions and proxies report ``fingerprint``."""
    value = status.get("model_id") or status.get("fingerprint") or ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def current_model(rasa_url: str, *, timeout: float = STATUS_TIMEOUT) -> str:
    """The model file the running server has loaded ("" when it runs without a model)."""
    return str(_status(rasa_url, timeout).get("model_file") or "")


def _load(rasa_url: str, model_path: Path, timeout: float) -> dict[str, Any]:
    """PUT /model, then check with /status that the new file is the one loaded."""
    code, payload = _request("PUT", rasa_url, "/model", {"model_file": str(model_path)}, timeout)
    if code not in (200, 204):
        raise PromoteError(
            f"Rasa at {rasa_url} could not load {model_path} (HTTP {code}): "
            f"{_rasa_message(payload)}. The previous model stays live."
        )
    status = _status(rasa_url)
    if status.get("model_file") != model_path.name:
        raise PromoteError(
            f"Rasa at {rasa_url} accepted {model_path.name} but reports "
            f"{status.get('model_file')!r} as loaded"
        )
    return status


# --------------------------------------------------------------------------- history


def history_file() -> Path:
    return get_settings().var_dir / HISTORY_NAME


def _read_history(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"version": 1, "entries": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise PromoteError(f"cannot read the promote history {path}: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise PromoteError(f"{path} is not a promote history (no 'entries' list)")
    return data


def _write_history(path: Path, history: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(history, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _same_server(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _locate(model_file: str, history: dict[str, Any], near: Path | None = None) -> str | None:
    """Absolute path of a model Rasa names only by its file name."""
    if not model_file:
        return None
    for entry in reversed(history["entries"]):
        for side in ("promoted", "previous"):
            info = entry.get(side) or {}
            path = info.get("path")
            if info.get("model_file") == model_file and path and Path(path).is_file():
                return str(path)
    for directory in (MODELS_DIR, near):
        if directory is not None and (directory / model_file).is_file():
            return str((directory / model_file).resolve())
    return None


# --------------------------------------------------------------------------- commands


def check_model_file(model_path: Path) -> Path:
    """The model's absolute path, after checking it is a readable model archive."""
    path = model_path.expanduser().resolve()
    if not path.is_file():
        raise PromoteError(f"no model file at {model_path}")
    if not tarfile.is_tarfile(path):
        raise PromoteError(f"{model_path} is not a Rasa model (not a .tar.gz archive)")
    return path


def promote(
    rasa_url: str,
    model_path: Path,
    *,
    check: bool = False,
    threshold: float = 0.90,
    history_path: Path | None = None,
    timeout: float = LOAD_TIMEOUT,
) -> PromoteResult:
    """Load ``model_path`` into the running server and record what was live before.

    With ``check``, the model must first pass the held-out evaluation
    (:func:`tools.evaluate.evaluate` at ``threshold``).
    """
    path = check_model_file(model_path)
    history_path = history_path or history_file()
    history = _read_history(history_path)
    before = _status(rasa_url)  # fail fast when the server is down, before a long evaluation
    previous = str(before.get("model_file") or "")
    if previous == path.name:
        return PromoteResult("unchanged", rasa_url, previous, previous, path, 0.0)
    if check:
        from tools.env import apply_to_current_process
        from tools.evaluate import evaluate

        apply_to_current_process()
        if evaluate(path, threshold=threshold) != 0:
            raise PromoteError(
                f"{path.name} fails the held-out evaluation (intent macro-F1 below "
                f"{threshold:.2f}); not promoted"
            )
    started = time.monotonic()
    after = _load(rasa_url, path, timeout)
    seconds = time.monotonic() - started
    history["entries"].append({
        "action": "promote",
        "at": _now(),
        "rasa_url": rasa_url.rstrip("/"),
        "previous": {
            "model_file": previous,
            "model_id": _model_id(before),
            "path": _locate(previous, history, near=path.parent),
        },
        "promoted": {"model_file": path.name, "model_id": _model_id(after), "path": str(path)},
        "rolled_back_at": None,
    })
    _write_history(history_path, history)
    return PromoteResult("promote", rasa_url, previous, path.name, path, seconds)


def rollback(
    rasa_url: str,
    *,
    force: bool = False,
    history_path: Path | None = None,
    timeout: float = LOAD_TIMEOUT,
) -> PromoteResult:
    """Load the model that was live before the last promote (not yet rolled back)."""
    history_path = history_path or history_file()
    history = _read_history(history_path)
    entry = next(
        (
            e for e in reversed(history["entries"])
            if e.get("action") == "promote"
            and _same_server(str(e.get("rasa_url", "")), rasa_url)
            and not e.get("rolled_back_at")
        ),
        None,
    )
    if entry is None:
        raise PromoteError(f"nothing to roll back: no promote to {rasa_url} in {history_path}")
    live = current_model(rasa_url)
    promoted = entry["promoted"]["model_file"]
    if live != promoted and not force:
        raise PromoteError(
            f"Rasa at {rasa_url} runs {live or 'no model'}, not {promoted} (the last promote); "
            "it was restarted or changed by hand. Use --force to load "
            f"{entry['previous']['model_file'] or 'the previous model'} anyway"
        )
    target = entry["previous"].get("path") or _locate(entry["previous"]["model_file"], history)
    if not target:
        before = entry["previous"]["model_file"]
        raise PromoteError(
            "cannot roll back: "
            + (f"the previous model {before} is no longer on disk" if before
               else "no model was loaded before the last promote")
        )
    path = check_model_file(Path(target))
    started = time.monotonic()
    _load(rasa_url, path, timeout)
    seconds = time.monotonic() - started
    at = _now()
    entry["rolled_back_at"] = at
    history["entries"].append({
        "action": "rollback",
        "at": at,
        "rasa_url": rasa_url.rstrip("/"),
        "from": live,
        "to": path.name,
    })
    _write_history(history_path, history)
    return PromoteResult("rollback", rasa_url, live, path.name, path, seconds)


# --------------------------------------------------------------------------- CLI


def main_promote(argv: list[str] | None = None) -> int:
    """``./mttq promote``: every replica of the pool (:mod:`tools.promote_pool`)."""
    from tools.promote_pool import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(main_promote())
