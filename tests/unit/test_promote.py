"""`./mttq promote`: load a model into a running Rasa server over its HTTP API, and roll back.

Most tests talk to a small local fake of Rasa's model API (aiohttp on 127.0.0.1, in a thread):
``PUT /model`` records the file and answers 204, ``GET /status`` reports the loaded file. The
slow test does the same against a real ``rasa run`` with the newest trained model.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.settings import get_settings
from tools.procs import free_port
from tools.promote import (
    PromoteError,
    current_model,
    main_promote,
    promote,
    rollback,
)
from tools.promote_pool import pool_file, pool_urls, promote_all, rollback_all


def make_model(path: Path) -> Path:
    """A tar.gz archive standing in for a Rasa model (the fake server never opens it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        data = json.dumps({"model_id": path.name}).encode()
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


class FakeRasa:
    """Rasa's /status and PUT /model, as `rasa run --enable-api [--auth-token]` answers them."""

    def __init__(self, model_file: str | None, token: str | None = None) -> None:
        self.model_file = model_file
        self.token = token
        self.loaded: list[str] = []
        self.requests: list[str] = []
        self.fail_loading = False
        #: Loads a model but cannot parse with it (the answer check must catch that).
        self.fail_parsing = False
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def _authorised(self, request: web.Request) -> bool:
        return self.token is None or request.query.get("token") == self.token

    async def status(self, request: web.Request) -> web.Response:
        self.requests.append(f"GET {request.path_qs}")
        if not self._authorised(request):
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"},
                                     status=401)
        if self.model_file is None:
            return web.json_response({"message": "No agent loaded."}, status=409)
        return web.json_response({
            "model_file": self.model_file,
            "fingerprint": {"model": f"fp-{self.model_file}"},
            "num_active_training_jobs": 0,
        })

    async def put_model(self, request: web.Request) -> web.Response:
        self.requests.append(f"PUT {request.path_qs}")
        if not self._authorised(request):
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"},
                                     status=401)
        body = await request.json()
        path = Path(body["model_file"])
        if self.fail_loading or not path.is_absolute() or not path.is_file():
            return web.json_response(
                {"status": "failure", "reason": "LoadingError",
                 "message": f"An unexpected error occurred. Error: cannot load {path}"},
                status=500,
            )
        self.loaded.append(str(path))
        self.model_file = path.name
        return web.Response(status=204)

    async def parse(self, request: web.Request) -> web.Response:
        self.requests.append(f"POST {request.path_qs}")
        if not self._authorised(request):
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"},
                                     status=401)
        if self.fail_parsing:
            return web.json_response({"status": "failure", "message": "parse failed"},
                                     status=500)
        text = (await request.json())["text"]
        return web.json_response({"text": text, "intent": {"name": "greet", "confidence": 1.0},
                                  "model": self.model_file})

    def start(self) -> FakeRasa:
        app = web.Application()
        app.router.add_get("/status", self.status)
        app.router.add_put("/model", self.put_model)
        app.router.add_post("/model/parse", self.parse)
        self._runner = web.AppRunner(app)
        self._thread.start()
        port = free_port()

        async def serve() -> None:
            assert self._runner is not None
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", port).start()

        asyncio.run_coroutine_threadsafe(serve(), self._loop).result(timeout=10)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(autouse=True)
def _no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RASA_TOKEN", raising=False)


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Path]:
    return {name: make_model(tmp_path / "models" / f"{name}.tar.gz")
            for name in ("initial", "new1", "new2")}


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    server = FakeRasa("initial.tar.gz").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return tmp_path / "var" / "promote-history.json"


def test_promote_status_rollback(
    fake_rasa: FakeRasa, models: dict[str, Path], history: Path
) -> None:
    assert current_model(fake_rasa.url) == "initial.tar.gz"

    first = promote(fake_rasa.url, models["new1"], history_path=history)
    assert (first.action, first.previous, first.current) == ("promote", "initial.tar.gz",
                                                            "new1.tar.gz")
    assert fake_rasa.loaded == [str(models["new1"].resolve())]  # absolute path, as Rasa needs
    assert current_model(fake_rasa.url) == "new1.tar.gz"

    promote(fake_rasa.url, models["new2"], history_path=history)
    assert current_model(fake_rasa.url) == "new2.tar.gz"

    entries = json.loads(history.read_text())["entries"]
    assert [(e["previous"]["model_file"], e["promoted"]["model_file"]) for e in entries] == [
        ("initial.tar.gz", "new1.tar.gz"), ("new1.tar.gz", "new2.tar.gz")]
    assert entries[0]["previous"]["path"] == str(models["initial"].resolve())
    assert entries[0]["previous"]["model_id"] == json.dumps({"model": "fp-initial.tar.gz"})
    assert all(e["at"] and e["rasa_url"] == fake_rasa.url for e in entries)

    back = rollback(fake_rasa.url, history_path=history)
    assert (back.action, back.previous, back.current) == ("rollback", "new2.tar.gz",
                                                         "new1.tar.gz")
    assert current_model(fake_rasa.url) == "new1.tar.gz"
    rollback(fake_rasa.url, history_path=history)
    assert current_model(fake_rasa.url) == "initial.tar.gz"
    assert fake_rasa.loaded[-1] == str(models["initial"].resolve())
    with pytest.raises(PromoteError, match="nothing to roll back"):
        rollback(fake_rasa.url, history_path=history)

    entries = json.loads(history.read_text())["entries"]
    assert [e["action"] for e in entries] == ["promote", "promote", "rollback", "rollback"]
    assert entries[0]["rolled_back_at"] and entries[1]["rolled_back_at"]


def test_promoting_the_live_model_changes_nothing(
    fake_rasa: FakeRasa, models: dict[str, Path], history: Path
) -> None:
    result = promote(fake_rasa.url, models["initial"], history_path=history)
    assert result.action == "unchanged"
    assert fake_rasa.loaded == []
    assert not history.exists()


def test_token_is_sent_when_rasa_token_is_set(
    models: dict[str, Path], history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeRasa("initial.tar.gz", token="s3cret").start()
    try:
        with pytest.raises(PromoteError, match="RASA_TOKEN"):
            current_model(server.url)
        monkeypatch.setenv("RASA_TOKEN", "s3cret")
        promote(server.url, models["new1"], history_path=history)
        assert server.model_file == "new1.tar.gz"
        assert "PUT /model?token=s3cret" in server.requests
    finally:
        server.stop()


def test_server_down_is_a_clear_error(
    models: dict[str, Path], history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    expected = f"Rasa is not running at {url}, start it with ./mttq run"
    with pytest.raises(PromoteError) as error:
        current_model(url)
    assert str(error.value) == expected
    with pytest.raises(PromoteError, match="Rasa is not running"):
        promote(url, models["new1"], history_path=history)
    assert not history.exists()
    assert main_promote(["status", "--rasa-url", url]) == 1
    assert expected in capsys.readouterr().err


def test_missing_or_broken_model_is_refused_before_any_request(
    fake_rasa: FakeRasa, tmp_path: Path, history: Path
) -> None:
    with pytest.raises(PromoteError, match="no model file"):
        promote(fake_rasa.url, tmp_path / "models" / "nope.tar.gz", history_path=history)
    not_a_model = tmp_path / "models" / "notes.tar.gz"
    not_a_model.parent.mkdir(parents=True, exist_ok=True)
    not_a_model.write_text("not an archive")
    with pytest.raises(PromoteError, match="not a Rasa model"):
        promote(fake_rasa.url, not_a_model, history_path=history)
    assert fake_rasa.requests == []


def test_a_model_rasa_cannot_load_leaves_the_old_one_live(
    fake_rasa: FakeRasa, models: dict[str, Path], history: Path
) -> None:
    fake_rasa.fail_loading = True
    with pytest.raises(PromoteError, match="could not load .*HTTP 500.*cannot load"):
        promote(fake_rasa.url, models["new1"], history_path=history)
    assert current_model(fake_rasa.url) == "initial.tar.gz"
    assert not history.exists()


def test_rollback_refuses_when_the_server_changed_since(
    fake_rasa: FakeRasa, models: dict[str, Path], history: Path
) -> None:
    promote(fake_rasa.url, models["new1"], history_path=history)
    fake_rasa.model_file = "restarted-by-hand.tar.gz"
    with pytest.raises(PromoteError, match="--force"):
        rollback(fake_rasa.url, history_path=history)
    assert fake_rasa.model_file == "restarted-by-hand.tar.gz"
    result = rollback(fake_rasa.url, force=True, history_path=history)
    assert result.current == "initial.tar.gz"


def test_check_refuses_a_model_that_fails_the_evaluation(
    fake_rasa: FakeRasa, models: dict[str, Path], history: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tools.evaluate

    evaluated: list[tuple[Path, float]] = []

    def failing_evaluate(model_path: Path, threshold: float = 0.9) -> int:
        evaluated.append((model_path, threshold))
        return 1

    monkeypatch.setattr(tools.evaluate, "evaluate", failing_evaluate)
    with pytest.raises(PromoteError, match="fails the held-out evaluation"):
        promote(fake_rasa.url, models["new1"], check=True, threshold=0.85,
                history_path=history)
    assert evaluated == [(models["new1"].resolve(), 0.85)]
    assert fake_rasa.loaded == []
    assert current_model(fake_rasa.url) == "initial.tar.gz"


def test_server_without_a_model(models: dict[str, Path], history: Path) -> None:
    server = FakeRasa(None).start()
    try:
        assert current_model(server.url) == ""
        result = promote(server.url, models["new1"], history_path=history)
        assert result.previous == ""
        with pytest.raises(PromoteError, match="no model was loaded before"):
            rollback(server.url, history_path=history)
    finally:
        server.stop()


def test_cli(
    fake_rasa: FakeRasa, models: dict[str, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        # The step may be left out: a bare path means "promote".
        assert main_promote([str(models["new1"]), "--rasa-url", fake_rasa.url]) == 0
        assert "new1.tar.gz loaded in" in capsys.readouterr().out
        assert (tmp_path / "var" / "promote-history.json").exists()

        monkeypatch.setattr("tools.model.latest_model", lambda: models["new2"])
        assert main_promote(["--rasa-url", fake_rasa.url, "promote"]) == 0
        assert fake_rasa.model_file == "new2.tar.gz"

        assert main_promote(["status", "--rasa-url", fake_rasa.url]) == 0
        out = capsys.readouterr().out
        assert "runs new2.tar.gz" in out and "new1.tar.gz -> new2.tar.gz" in out

        assert main_promote(["rollback", "--rasa-url", fake_rasa.url]) == 0
        assert "new2.tar.gz -> new1.tar.gz" in capsys.readouterr().out
        assert fake_rasa.model_file == "new1.tar.gz"
    finally:
        get_settings.cache_clear()


# --------------------------------------------------------------------------- the pool


@pytest.fixture
def pool() -> Iterator[list[FakeRasa]]:
    servers = [FakeRasa("initial.tar.gz").start(), FakeRasa("initial.tar.gz").start()]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_promote_moves_every_replica_one_at_a_time(
    pool: list[FakeRasa], models: dict[str, Path], history: Path
) -> None:
    order: list[tuple[str, list[str | None]]] = []
    result = promote_all([s.url for s in pool], models["new1"], history_path=history,
                         progress=lambda r: order.append((r.rasa_url,
                                                          [s.model_file for s in pool])))
    assert [s.model_file for s in pool] == ["new1.tar.gz", "new1.tar.gz"]
    assert len(result.changed) == 2
    # One at a time: the second was untouched when the first was done.
    assert order == [(pool[0].url, ["new1.tar.gz", "initial.tar.gz"]),
                     (pool[1].url, ["new1.tar.gz", "new1.tar.gz"])]
    # Each one loaded the model, then reported it and parsed a message with it.
    for server in pool:
        assert [r.split("?")[0] for r in server.requests[-4:]] == [
            "PUT /model", "GET /status", "GET /status", "POST /model/parse"]
    assert rollback_all([s.url for s in pool], history_path=history)
    assert [s.model_file for s in pool] == ["initial.tar.gz", "initial.tar.gz"]


@pytest.mark.parametrize("failure", ["loading", "parsing"])
def test_a_model_that_fails_on_one_replica_is_rolled_back_on_all(
    pool: list[FakeRasa], models: dict[str, Path], history: Path, failure: str
) -> None:
    first, second = pool
    setattr(second, f"fail_{failure}", True)
    with pytest.raises(PromoteError, match="Rolled back") as error:
        promote_all([s.url for s in pool], models["new1"], history_path=history)
    assert [s.model_file for s in pool] == ["initial.tar.gz", "initial.tar.gz"]
    assert first.loaded[-2:] == [str(models["new1"]), str(models["initial"])]
    assert first.url in str(error.value)
    if failure == "parsing":  # it had loaded the model: it is put back too
        assert second.loaded[-2:] == [str(models["new1"]), str(models["initial"])]


def test_the_pool_comes_from_the_running_profile(
    pool: list[FakeRasa], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RASA_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    try:
        assert pool_urls() == ["http://127.0.0.1:9"]  # no profile running: the one server
        pool_file().parent.mkdir(parents=True)
        pool_file().write_text(json.dumps({"rasa": [s.url for s in pool], "pid": os.getpid()}))
        assert pool_urls() == [s.url for s in pool]
        assert pool_urls(["http://x:1/"]) == ["http://x:1"]
        pool[1].model_file = "other.tar.gz"
        assert main_promote(["status"]) == 0
        out = capsys.readouterr().out
        assert f"{pool[0].url}: runs initial.tar.gz" in out
        assert f"{pool[1].url}: runs other.tar.gz" in out
        assert "do not all run the same model" in out
        # A profile that died leaves its file: not believed.
        pool_file().write_text(json.dumps({"rasa": [s.url for s in pool], "pid": 2 ** 22 + 7}))
        assert pool_urls() == ["http://127.0.0.1:9"]
    finally:
        get_settings.cache_clear()


# --------------------------------------------------------------------------- real Rasa


@pytest.mark.slow
def test_promote_and_roll_back_two_real_rasa_replicas(
    tmp_path: Path, history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ``rasa run`` replicas: promote moves both; a model that fails on the second (its
    file replaced by an archive Rasa cannot load once the first took it) leaves both on the
    model they had."""
    from tools import model as trained_models
    from tools.env import child_env
    from tools.procs import free_ports, rasa_server, wait_ready

    live = trained_models.latest_model()
    if live is None or not live.exists():
        if os.environ.get("CI"):
            pytest.fail("no trained model: `./mttq test` trains one before pytest")
        pytest.skip("no trained model in models/ (run ./mttq train)")
    candidates = tmp_path / "candidates"
    candidates.mkdir()
    good = candidates / f"candidate-{live.name}"
    failing = candidates / f"failing-{live.name}"
    shutil.copy2(live, good)
    shutil.copy2(live, failing)
    # No action server or channels are needed to load models: in-memory tracker store.
    (tmp_path / "endpoints.yml").write_text("# none\n")
    (tmp_path / "credentials.yml").write_text("rest:\n")
    env = child_env({"VAR_DIR": str(tmp_path / "var"),
                     "TRACKER_STORE_URL": f"sqlite:///{tmp_path / 'tracker.db'}"})
    monkeypatch.setenv("RASA_TOKEN", env["RASA_TOKEN"])  # the servers' token, as ./mttq promote
    servers = []
    for i, port in enumerate(free_ports(2), start=1):
        servers.append(rasa_server(live, port, log=tmp_path / f"rasa-{i}.log", env=env,
                                   endpoints=str(tmp_path / "endpoints.yml"),
                                   credentials=str(tmp_path / "credentials.yml")))
    urls = [server.ready_url.split("/status")[0] for server in servers]
    for server in servers:
        server.start()
    try:
        wait_ready(servers, timeout=240)
        assert [current_model(url) for url in urls] == [live.name, live.name]

        moved = promote_all(urls, good, history_path=history, timeout=180)
        assert [r.previous for r in moved.results] == [live.name, live.name]
        assert [current_model(url) for url in urls] == [good.name, good.name]

        def break_the_file(result: object) -> None:
            make_model(failing)  # a tar.gz, but no Rasa model: after the first replica loaded it

        with pytest.raises(PromoteError, match="Rolled back") as error:
            promote_all(urls, failing, history_path=history, timeout=180,
                        progress=break_the_file)
        assert urls[0] in str(error.value) and urls[1] in str(error.value)
        assert [current_model(url) for url in urls] == [good.name, good.name]

        back = rollback_all(urls, history_path=history, timeout=180)
        assert [r.current for r in back] == [live.name, live.name]
        assert [current_model(url) for url in urls] == [live.name, live.name]
    finally:
        for server in servers:
            server.stop()
