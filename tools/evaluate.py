"""`./mttq evaluate`: intent and entity report on the held-out split, which training never sees.

Runs the trained model in-process on every example of ``tests/data/nlu_eval/`` and reports:
- intent macro-F1 of the classifier's top intent, overall and separately for messages typed with
  and without diacritics (the threshold applies to each);
- how the assistant behaves: answered correctly, answered wrongly (a confident wrong answer) or
  asked (below the fallback threshold it asks instead of answering);
- entity precision/recall/F1 per entity type (type and canonical value must both match);
- per programme: how many of its held-out questions reach the right programme;
- a confusion matrix saved as a PNG, and the worst-confused intent pairs.
Exits 1 when a macro-F1 falls below the threshold.

Beside it, the blind set (``tests/data/nlu_blind/``, written by someone who saw only the NLU
contract and the programme content, never ``nlu_data/``): intent accuracy overall and without
diacritics, programme accuracy (the right programme, or the two offered when unsure), and the
rate of confidently wrong answers, against the targets of issue 11. The held-out split is written
like the training data and flatters the model; the blind set is what citizens do.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.settings import ROOT
from bot.vietnamese.normalize import fold, strip_diacritics

EVAL_DIR = ROOT / "tests" / "data" / "nlu_eval"
BLIND_DIR = ROOT / "tests" / "data" / "nlu_blind"
#: Issue 11's targets on the blind set.
BLIND_TARGETS = {"intent_accuracy": 0.95, "intent_accuracy_without_diacritics": 0.92,
                 "programme_accuracy": 0.95, "confidently_wrong_rate": 0.02}
RESULTS_DIR = ROOT / "results"
FALLBACK = "nlu_fallback"


@dataclass
class Example:
    text: str
    intent: str
    entities: list[tuple[str, str]]
    split: str
    programme: str | None = None  # the blind set's label (no span: often nothing names it)


@dataclass
class Prediction:
    example: Example
    intent: str  # what the assistant acts on (may be nlu_fallback)
    top_intent: str  # the classifier's best real intent
    confidence: float
    entities: list[tuple[str, str]] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)  # two programmes offered when unsure
    hint: str | None = None  # a petition's programme button (bot.nlu.programme, _petition_hint)


def load_examples(directory: Path = EVAL_DIR) -> list[Example]:
    from rasa.shared.nlu.training_data.loading import load_data

    examples: list[Example] = []
    for path in sorted(directory.glob("*.yml")):
        data = load_data(str(path))
        for message in data.intent_examples:
            entities = [
                (str(e["entity"]), str(e.get("value", "")))
                for e in message.get("entities") or []
            ]
            examples.append(Example(message.get("text"), message.get("intent"), entities, path.stem))
    return examples


def _load(model_path: Path) -> Any:
    """The model as an Agent, loaded once for every set evaluated: loading took about ten
    seconds, and with some twenty blind sets it was most of the held-out step of CI."""
    from rasa.core.agent import Agent

    return Agent.load(str(model_path))


async def _predict(model: Path | Any, examples: list[Example]) -> list[Prediction]:
    """What the assistant makes of each example; ``model`` is a model path or an Agent already
    loaded (:func:`_load`)."""
    from bot.knowledge.clarify import likely_programmes

    agent = _load(model) if isinstance(model, Path) else model
    predictions = []
    for example in examples:
        parsed: dict[str, Any] = await agent.parse_message(example.text)
        ranking = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != FALLBACK]
        intent = parsed.get("intent") or {}
        predictions.append(
            Prediction(
                example,
                str(intent.get("name") or ""),
                str(ranking[0]["name"]) if ranking else str(intent.get("name") or ""),
                float(ranking[0]["confidence"]) if ranking else 0.0,
                [(str(e["entity"]), str(e.get("value", ""))) for e in parsed.get("entities") or []],
                # What the assistant offers by name: below the threshold, the clarification
                # menu's programmes (bot.knowledge.clarify); above it, the two it hesitated on.
                likely_programmes(parsed) if intent.get("name") == FALLBACK
                else [str(c) for c in parsed.get("programme_candidates") or []],
                str(parsed["programme_hint"]) if parsed.get("programme_hint") else None,
            )
        )
    return predictions


def load_blind(directory: Path = BLIND_DIR) -> dict[str, tuple[bool, list[Example]]]:
    """Each blind set (``*.yml``: ``messages:`` of ``{text, intent, programme?}``) by file name,
    with whether it has been used to tune (``tuned_on``)."""
    import yaml

    sets: dict[str, tuple[bool, list[Example]]] = {}
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        examples: list[Example] = []
        for item in data.get("messages") or []:
            text, intent = str(item.get("text") or ""), str(item.get("intent") or "")
            if not text.strip() or not intent:
                continue
            programme = item.get("programme")
            alt = item.get("programme_alt")
            split = "blind_without_diacritics" if strip_diacritics(text) == text \
                else "blind_with_diacritics"
            example = Example(text, intent, [], split, str(programme) if programme else None)
            example.entities = [("programme_alt", str(alt))] if alt else []
            examples.append(example)
        if examples:
            sets[path.name] = (bool(data.get("tuned_on")), examples)
    return sets


def blind_report(predictions: list[Prediction]) -> dict[str, Any]:
    """Issue 11's measures on the blind set.

    * intent accuracy: the intent the assistant acts on is the labelled one (asking back is not
      right here, but it is not counted as confidently wrong either);
    * programme accuracy, over programme questions: the intent is ``ask_programme`` and the
      programme found is the labelled one, or, when the assistant is unsure, the labelled one is
      among the two it offers (for a message labelled ambiguous, either of its two labels);
      ``None`` when the set has no programme questions (likewise the accuracy without
      diacritics when every message has them), so a report says so instead of failing a target
      on an empty count;
    * confidently wrong: the assistant acted on another intent, or answered a programme question
      with another programme.
    """
    def accuracy(preds: list[Prediction]) -> float | None:
        if not preds:
            return None  # nothing to measure: "none in this set", not a failing 0.000
        return round(sum(p.intent == p.example.intent for p in preds) / len(preds), 4)

    def share(count: int, total: int) -> float | None:
        return round(count / total, 4) if total else None

    plain = [p for p in predictions if p.example.split == "blind_without_diacritics"]
    programme_qs = [p for p in predictions
                    if p.example.intent == "ask_programme" and p.example.programme]
    right_programme = wrong = offered = buttoned = 0
    errors = []
    for p in predictions:
        gold = {p.example.programme} | {v for e, v in p.example.entities if e == "programme_alt"}
        gold.discard(None)
        got = [v for e, v in p.entities if e == "programme"]
        verdict = "right"
        if p.intent == FALLBACK:
            # The clarification menu names the likely programme: one tap reaches the answer.
            offered_right = p.example.intent == "ask_programme" and gold & set(p.candidates)
            verdict = "offered" if offered_right else "asked"
        elif p.intent != p.example.intent:
            verdict = "wrong"
        elif p.example.intent == "ask_programme" and gold:
            if got and got[0] in gold:
                verdict = "right"
            elif got:
                verdict = "wrong"
            elif gold & set(p.candidates):
                verdict = "offered"
            else:
                verdict = "asked"
        if p.example.intent == "ask_programme" and p.example.programme:
            right_programme += verdict == "right"
            offered += verdict == "offered"
        wrong += verdict == "wrong"
        # Still wrong (the petition form opens), but its first question offers the right
        # programme: one tap from the answer.
        buttoned += (verdict == "wrong" and p.intent == "submit_petition"
                     and p.example.intent == "ask_programme" and p.hint in gold)
        if verdict != "right":
            errors.append({"text": p.example.text, "gold": p.example.intent,
                           "programme": p.example.programme, "predicted": p.intent,
                           "found": got[:1], "offered": p.candidates, "verdict": verdict})
    n = len(predictions) or 1
    return {
        "examples": len(predictions),
        "without_diacritics": len(plain),
        "programme_questions": len(programme_qs),
        "intent_accuracy": accuracy(predictions),
        "intent_accuracy_without_diacritics": accuracy(plain),
        "programme_accuracy": share(right_programme + offered, len(programme_qs)),
        "programme_named_right": share(right_programme, len(programme_qs)),
        "confidently_wrong_rate": round(wrong / n, 4),
        "questions_read_as_petitions": sum(
            p.example.intent == "ask_programme" and p.intent == "submit_petition"
            for p in predictions),
        "of_which_the_form_offers_the_programme": buttoned,
        "errors": errors,
    }


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    from sklearn.metrics import f1_score

    labels = sorted(set(gold))
    return float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0))


#: Place entities are compared by the unit they resolve to: "mặt trận phường Láng" and "phường
#: Láng" name the same committee, which is what the assistant acts on.
PLACE_ENTITIES = ("unit", "location")


def _comparable(entity: str, value: str) -> tuple[str, str]:
    if entity in PLACE_ENTITIES:
        from bot.knowledge.content import unit_tree

        result = unit_tree().resolve(value)
        if result.status == "one" and result.unit is not None:
            return entity, f"unit:{result.unit.code}"
    return entity, fold(value)


def entity_report(predictions: list[Prediction]) -> dict[str, dict[str, float]]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for p in predictions:
        gold = {_comparable(e, v) for e, v in p.example.entities}
        pred = {_comparable(e, v) for e, v in p.entities}
        for entity, _ in pred & gold:
            tp[entity] += 1
        for entity, _ in pred - gold:
            fp[entity] += 1
        for entity, _ in gold - pred:
            fn[entity] += 1
    report = {}
    for entity in sorted(set(tp) | set(fp) | set(fn)):
        precision = tp[entity] / (tp[entity] + fp[entity]) if tp[entity] + fp[entity] else 0.0
        recall = tp[entity] / (tp[entity] + fn[entity]) if tp[entity] + fn[entity] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[entity] = {
            "precision": round(precision, 3),
            "recall": round(recall, 3),
            "f1": round(f1, 3),
            "support": tp[entity] + fn[entity],
        }
    return report


def behaviour(predictions: list[Prediction]) -> dict[str, float]:
    n = len(predictions) or 1
    asked = sum(p.intent == FALLBACK for p in predictions)
    wrong = sum(p.intent != FALLBACK and p.intent != p.example.intent for p in predictions)
    return {
        "answered_right_rate": round((n - asked - wrong) / n, 4),
        "wrong_answer_rate": round(wrong / n, 4),
        "ask_rate": round(asked / n, 4),
    }


def programme_report(predictions: list[Prediction]) -> dict[str, dict[str, int]]:
    """Per programme: held-out questions whose intent and programme value both came out right."""
    report: dict[str, dict[str, int]] = defaultdict(lambda: {"total": 0, "right": 0})
    for p in predictions:
        gold = [v for e, v in p.example.entities if e == "programme"]
        if p.example.intent != "ask_programme" or not gold:
            continue
        got = {v for e, v in p.entities if e == "programme"}
        entry = report[gold[0]]
        entry["total"] += 1
        entry["right"] += int(p.intent == "ask_programme" and gold[0] in got)
    return dict(sorted(report.items()))


def threshold_sweep(
    predictions: list[Prediction], thresholds: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
) -> list[dict[str, float]]:
    """Wrong-answer rate against ask rate for fallback thresholds: the data to tune it with."""
    n = len(predictions) or 1
    rows = []
    for t in thresholds:
        asked = sum(p.confidence < t for p in predictions)
        wrong = sum(p.confidence >= t and p.top_intent != p.example.intent for p in predictions)
        rows.append({"threshold": t, "wrong_answer_rate": round(wrong / n, 4),
                     "ask_rate": round(asked / n, 4)})
    return rows


def confused_pairs(predictions: list[Prediction], top: int = 8) -> list[tuple[str, str, int]]:
    pairs = Counter(
        (p.example.intent, p.top_intent) for p in predictions if p.top_intent != p.example.intent
    )
    return [(g, q, n) for (g, q), n in pairs.most_common(top)]


def save_confusion_png(predictions: list[Prediction], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    gold = [p.example.intent for p in predictions]
    pred = [p.top_intent for p in predictions]
    labels = sorted(set(gold) | set(pred))
    matrix = confusion_matrix(gold, pred, labels=labels)
    fig, ax = plt.subplots(figsize=(11, 9))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Intent confusion on the held-out split")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                        color="white" if matrix[i, j] > matrix.max() / 2 else "black", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate(model_path: Path, threshold: float = 0.90, out_dir: Path = RESULTS_DIR) -> int:
    logging.getLogger("rasa").setLevel(logging.ERROR)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa's per-message debug lines would bury the report
    examples = load_examples()
    if not examples:
        raise SystemExit(f"No evaluation examples in {EVAL_DIR}")
    agent = _load(model_path)
    predictions = asyncio.run(_predict(agent, examples))

    splits: dict[str, list[Prediction]] = defaultdict(list)
    for p in predictions:
        splits[p.example.split].append(p)
    f1 = {
        "all": macro_f1([p.example.intent for p in predictions], [p.top_intent for p in predictions])
    }
    for split, preds in sorted(splits.items()):
        f1[split] = macro_f1([p.example.intent for p in preds], [p.top_intent for p in preds])
    results = {
        "model": model_path.name,
        "examples": len(predictions),
        "intent_macro_f1": {k: round(v, 4) for k, v in f1.items()},
        "threshold": threshold,
        "behaviour": behaviour(predictions),
        "behaviour_by_split": {k: behaviour(v) for k, v in sorted(splits.items())},
        "entities": entity_report(predictions),
        "programmes": programme_report(predictions),
        "confused_pairs": confused_pairs(predictions),
        "threshold_sweep": threshold_sweep(predictions),
        "errors": [
            {"text": p.example.text, "gold": p.example.intent, "predicted": p.intent,
             "top_intent": p.top_intent, "confidence": round(p.confidence, 3)}
            for p in predictions if p.intent != p.example.intent
        ],
    }
    results["blind"] = {
        name: {"tuned_on": tuned, **blind_report(asyncio.run(_predict(agent, examples)))}
        for name, (tuned, examples) in load_blind().items()
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "nlu_eval.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    save_confusion_png(predictions, out_dir / "confusion_matrix.png")
    _print_report(results, out_dir)
    failed = [k for k, v in f1.items() if v < threshold]
    if failed:
        print(f"FAIL: intent macro-F1 below {threshold:.2f} for: {', '.join(failed)}")
        return 1
    print(f"OK: intent macro-F1 at or above {threshold:.2f} overall and for every split.")
    return 0


def _print_report(results: dict[str, Any], out_dir: Path) -> None:
    print(f"\nNLU evaluation of {results['model']} on {results['examples']} held-out messages")
    print("Intent macro-F1 (classifier's top intent):")
    for split, value in results["intent_macro_f1"].items():
        print(f"  {split:<22} {value:.3f}")
    print("What the assistant does (acts on the answer, or asks below the fallback threshold):")
    for split, b in [("all", results["behaviour"]), *results["behaviour_by_split"].items()]:
        print(f"  {split:<22} right {b['answered_right_rate']:.1%}  "
              f"wrong {b['wrong_answer_rate']:.1%}  asks {b['ask_rate']:.1%}")
    print("Fallback threshold sweep (classifier confidence below it -> the assistant asks):")
    for row in results["threshold_sweep"]:
        print(f"  {row['threshold']:.2f}  wrong {row['wrong_answer_rate']:.1%}  "
              f"asks {row['ask_rate']:.1%}")
    print("Entities (type and value):")
    for entity, r in results["entities"].items():
        print(f"  {entity:<14} P {r['precision']:.2f}  R {r['recall']:.2f}  "
              f"F1 {r['f1']:.2f}  (n={r['support']})")
    print("Programme questions reaching the right programme:")
    for programme, r in results["programmes"].items():
        print(f"  {programme:<30} {r['right']}/{r['total']}")
    print("Worst-confused intent pairs (true -> predicted: count):")
    for gold, pred, n in results["confused_pairs"] or []:
        print(f"  {gold} -> {pred}: {n}")
    print(f"Confusion matrix: {out_dir / 'confusion_matrix.png'}; details: {out_dir / 'nlu_eval.json'}")
    for name, blind in (results.get("blind") or {}).items():
        _print_blind(name, blind)


def _print_blind(name: str, blind: dict[str, Any]) -> None:
    """One blind set against issue 11's targets; a measure with nothing to count says so."""
    use = ("used to tune: a biased measure" if blind["tuned_on"]
           else "fresh: never used to tune")
    print(f"\nBlind set {BLIND_DIR.relative_to(ROOT)}/{name} ({use}): {blind['examples']} "
          f"messages, {blind['without_diacritics']} without diacritics, "
          f"{blind['programme_questions']} programme questions")
    for key, target in BLIND_TARGETS.items():
        value = blind[key]
        if value is None:
            print(f"  {key:<36} none in this set")
            continue
        met = value <= target if key == "confidently_wrong_rate" else value >= target
        sign = "<=" if key == "confidently_wrong_rate" else ">="
        print(f"  {key:<36} {value:.3f}  (target {sign} {target:.2f}: "
              f"{'met' if met else 'NOT met'})")
    if blind.get("questions_read_as_petitions"):
        print(f"  {'questions_read_as_petitions':<36} {blind['questions_read_as_petitions']}  "
              f"(of which the form's first question offers the right programme: "
              f"{blind['of_which_the_form_offers_the_programme']})")
    if blind["programme_named_right"] is not None:
        print(f"  {'programme_named_right':<36} {blind['programme_named_right']:.3f}  "
              f"(the rest of programme accuracy: the right one among two offered)")
