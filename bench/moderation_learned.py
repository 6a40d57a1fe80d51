"""The learned second opinion measured: cross-validation, the dev holdout, ordinary text.

    PYTHONPATH=. .venv/bin/python -m bench.moderation_learned [--folds 5]

1. **Cross-validation** on ``content/moderation/training.tsv``: the lines split into
   ``--folds`` parts (stratified by kind, fixed seed); for each part a model trained on the
   others gives its opinion on it, combined with the rules as the gate combines them
   (:func:`bot.moderation.gate.apply_policy`). Printed per kind: spam stopped, genuine lines
   refused (stopped, or answered as a bare insult), for the rules alone and for rules + model.
   The rules were written with part of these lines in view (the dev lines), so their own figure
   is flattering; the model's is not, since each line is judged by a model that never saw it.
2. **The dev holdout** ``tests/data/moderation/holdout.tsv`` (``spam|legit<TAB>text``, never in
   the training file): the same two policies, with the model trained on the whole file.
3. **Ordinary text**: the share of the VLSP 2013 test sentences (:mod:`bot.moderation.corpus`)
   each policy refuses.

Blind sets (``tests/data/*_blind``) are not read here: ``./mttq moderate --eval`` measures them.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

from bot.moderation import load_rules, moderate
from bot.moderation.corpus import corpus_report
from bot.moderation.evaluate import read_labelled
from bot.moderation.gate import apply_policy
from bot.moderation.learned import LearnedModel, TrainingLine, train, training_lines
from bot.moderation.normalise import normalise
from bot.moderation.opinion import (
    CONFIDENT_RELEASE_PROBABILITY,
    NEAR_THRESHOLD_SCORE,
    RELEASE_PROBABILITY,
    _citizen_signals,
    spam_probability,
)

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT = ROOT / "tests" / "data" / "moderation" / "holdout.tsv"
LABELLED = ROOT / "tests" / "data" / "moderation" / "labelled.tsv"


def _refused(text: str, verdict_rules, model: LearnedModel | None, learned: bool) -> bool:
    gate = apply_policy(verdict_rules, text, learned=learned, model=model)
    return gate.flagged or gate.insult_only


def _folds(lines: list[TrainingLine], folds: int) -> list[list[int]]:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i, line in enumerate(lines):
        by_kind[f"{line.label}/{line.kind}"].append(i)
    parts: list[list[int]] = [[] for _ in range(folds)]
    rng = random.Random(12)
    for indexes in by_kind.values():
        rng.shuffle(indexes)
        for j, i in enumerate(indexes):
            parts[j % folds].append(i)
    return parts


def cross_validate(folds: int) -> list[str]:
    rules = load_rules()
    lines = training_lines()
    total: Counter[str] = Counter()
    hits = {"rules": Counter[str](), "rules+model": Counter[str]()}
    mistakes: list[str] = []
    # Spam the rules were never written against: the training file's own lines, not the dev set's.
    dev = {text for _, text in read_labelled(LABELLED)}
    fresh = {name: 0 for name in ("rules", "rules+model")}
    fresh_total = 0
    stopped_spam = 0
    with_signal: list[float] = []
    released_with_signal = 0
    near_threshold: list[float] = []
    for part in _folds(lines, folds):
        held = set(part)
        model = train([line for i, line in enumerate(lines) if i not in held])
        for i in part:
            line = lines[i]
            key = f"{line.label}/{line.kind}"
            total[key] += 1
            verdict = moderate(line.text, rules)
            outcome = {name: _refused(line.text, verdict, model, learned)
                       for name, learned in (("rules", False), ("rules+model", True))}
            if line.label == "stop" and verdict.flagged and verdict.category != "abuse":
                # What the release bounds of bot/moderation/opinion.py risk: spam the rules
                # stop, with a citizen signal, or only just (see its docstring, point 3).
                stopped_spam += 1
                probability = spam_probability(line.text, model)
                if _citizen_signals(verdict.rule_ids, normalise(line.text)):
                    with_signal.append(probability)
                    released_with_signal += not outcome["rules+model"]
                elif verdict.score <= NEAR_THRESHOLD_SCORE:
                    near_threshold.append(probability)
            for name, refused in outcome.items():
                hits[name][key] += refused
                if line.label == "stop" and line.text not in dev:
                    fresh[name] += refused
            fresh_total += line.label == "stop" and line.text not in dev
            if line.label == "allow" and line.kind != "insult" and outcome["rules+model"] \
                    and not outcome["rules"]:
                mistakes.append(f"    refused by the model: {line.kind}: {line.text[:90]}")
    out = [f"Cross-validation, {folds} folds, {len(lines)} lines (content/moderation/"
           "training.tsv and the project's genuine text; rules | rules + model):"]
    for prefix, what in (("stop/", "stopped"), ("allow/", "refused")):
        rows = sorted(k for k in total if k.startswith(prefix))
        n = sum(total[k] for k in rows if not k.endswith("/insult"))
        a = sum(hits["rules"][k] for k in rows if not k.endswith("/insult"))
        b = sum(hits["rules+model"][k] for k in rows if not k.endswith("/insult"))
        label = "spam stopped" if prefix == "stop/" else "genuine refused"
        extra = f" = recall {a / n:.3f} | {b / n:.3f}" if prefix == "stop/" else ""
        out.append(f"  {label}: {a}/{n} | {b}/{n}{extra}")
        for k in rows:
            out.append(f"    {k.split('/', 1)[1]:<16} {hits['rules'][k]:>3} | "
                       f"{hits['rules+model'][k]:>3} of {total[k]} {what}"
                       + (" (calm reply or stopped)" if k.endswith("/insult") else ""))
    out.append(f"  spam the rules were not written against (training file minus the dev set): "
               f"{fresh['rules']}/{fresh_total} | {fresh['rules+model']}/{fresh_total} = recall "
               f"{fresh['rules'] / fresh_total:.3f} | {fresh['rules+model'] / fresh_total:.3f}")
    out.append(
        f"  spam the rules stop: {stopped_spam}; with a citizen signal {len(with_signal)} "
        f"(probability below {RELEASE_PROBABILITY:g}: "
        f"{sum(p < RELEASE_PROBABILITY for p in with_signal)}, lowest of the rest "
        f"{min((p for p in with_signal if p >= RELEASE_PROBABILITY), default=1.0):.2f}; "
        f"released by the model in all (graded bound, own words): {released_with_signal}); "
        f"without one at score <= {NEAR_THRESHOLD_SCORE:g} {len(near_threshold)} (probability "
        f"below {CONFIDENT_RELEASE_PROBABILITY:g}: "
        f"{sum(p < CONFIDENT_RELEASE_PROBABILITY for p in near_threshold)}, lowest of the rest "
        f"{min((p for p in near_threshold if p >= CONFIDENT_RELEASE_PROBABILITY), default=1.0):.2f})")
    return out + mistakes


def holdout() -> list[str]:
    rules = load_rules()
    pairs = read_labelled(HOLDOUT)
    counts = {name: Counter[str]() for name in ("rules", "rules+model")}
    for label, text in pairs:
        verdict = moderate(text, rules)
        for name, learned in (("rules", False), ("rules+model", True)):
            counts[name][label] += _refused(text, verdict, None, learned)
    n = Counter(label for label, _ in pairs)
    return [f"Holdout {HOLDOUT.relative_to(ROOT)} ({len(pairs)} lines; spam includes insults, "
            "refused = stopped or answered as a bare insult):"] + [
        f"  {name:<12} spam refused {c['spam']}/{n['spam']}, legit refused "
        f"{c['legit']}/{n['legit']}" for name, c in counts.items()]


def corpus() -> list[str]:
    out = []
    for name, learned in (("rules", False), ("rules+model", True)):
        report = corpus_report(learned=learned)
        if report is None:
            return ["Ordinary text: no corpus in this underthesea"]
        out.append(f"  {name:<12} " + report.summary().split("\n")[0])
        out += [f"    {line.strip()}" for line in report.summary().split("\n")[1:]]
    return ["Ordinary text:"] + out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validation")
    args = parser.parse_args(argv)
    print(f"$ PYTHONPATH=. .venv/bin/python -m bench.moderation_learned {' '.join(sys.argv[1:])}")
    if not args.no_cv:
        print("\n".join(cross_validate(args.folds)))
    print("\n".join(holdout()))
    print("\n".join(corpus()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
