"""What a higher fallback threshold would do on the blind sets that have been used to tune.

Why: "confidently wrong" on the blind sets stays above issue 11's 2%, and the first idea is to
ask back more often. This replays the current model's parses with a higher threshold — a parse
whose best real intent has less confidence than the threshold becomes a question back — and
prints issue 11's measures (:func:`tools.evaluate.blind_report`) per threshold. Only sets marked
``tuned_on: true`` are read, and only totals are printed: a fresh set must not steer a decision.

The replay keeps the programmes each parse offered (the clarification menu is not recomputed), so
programme accuracy at a raised threshold is approximate; intent accuracy and confidently wrong
are exact. Run from the repository root (after ``./mttq train``)::

    PYTHONPATH=. .venv/bin/python -m bench.fallback_sweep
"""

from __future__ import annotations

import asyncio
import dataclasses

from tools.evaluate import FALLBACK, _predict, blind_report, load_blind
from tools.model import latest_model

THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
MEASURES = ("intent_accuracy", "intent_accuracy_without_diacritics", "programme_accuracy",
            "confidently_wrong_rate")


def main() -> int:
    model = latest_model()
    if model is None:
        raise SystemExit("No model in models/: run ./mttq train first.")
    sets = load_blind()
    used = [name for name, (tuned, _) in sets.items() if tuned]
    examples = [ex for name in used for ex in sets[name][1]]
    print(f"{model.name}: {len(examples)} messages of the used sets {', '.join(used)}")
    predictions = asyncio.run(_predict(model, examples))
    print("threshold  " + "  ".join(MEASURES))
    for threshold in THRESHOLDS:
        replayed = [dataclasses.replace(p, intent=FALLBACK)
                    if p.intent != FALLBACK and p.confidence < threshold else p
                    for p in predictions]
        report = blind_report(replayed)
        print(f"{threshold:<9.2f}  " + "  ".join(
            "n/a" if report[m] is None else f"{report[m]:.3f}" for m in MEASURES))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
