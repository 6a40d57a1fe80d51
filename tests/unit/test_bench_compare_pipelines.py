"""``bench.compare_pipelines --stock-epochs``: the derived stock config changes epochs only."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench import compare_pipelines
from bot.settings import ROOT


def test_stock_config_without_epochs_is_the_committed_file() -> None:
    assert compare_pipelines.stock_config(None) == "config.stock.yml"


def test_stock_epochs_changes_every_epochs_line_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compare_pipelines.model, "MODELS_DIR", tmp_path)
    derived = yaml.safe_load((ROOT / compare_pipelines.stock_config(7)).read_text("utf-8"))
    stock = yaml.safe_load((ROOT / "config.stock.yml").read_text("utf-8"))

    def without_epochs(parts: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in part.items() if k != "epochs"} for part in parts]

    for key in ("pipeline", "policies"):
        trained = [part for part in derived[key] if "epochs" in part]
        assert trained and all(part["epochs"] == 7 for part in trained)
        assert len(trained) == sum("epochs" in part for part in stock[key])
        assert without_epochs(derived[key]) == without_epochs(stock[key])
    assert derived["language"] == stock["language"]
