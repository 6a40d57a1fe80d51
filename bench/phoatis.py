"""External check of the intent classifier: PhoATIS (public Vietnamese ATIS), intent accuracy.

Why an external set: our own blind sets are written for this assistant; PhoATIS is someone
else's data with published results (JointIDSF with PhoBERT: 97.62% intent accuracy, Dao et al.,
Interspeech 2021), so it shows whether the pipeline's text handling and classifier hold up on
Vietnamese they were not shaped around.

The dataset is not in this repository and is never downloaded: its terms forbid redistributing
it ("to not distribute the dataset or part of the dataset in any original or modified form"),
so the operator points ``--data`` at a checkout of https://github.com/VinAIResearch/JointIDSF
(its ``PhoATIS`` folder). The command trains NLU only, in a temporary directory:

* ``ours`` — the text pipeline of ``config.yml`` (Vietnamese normaliser and tokenizer, the three
  count featurizers, our logistic regression), without the components that only make sense for
  this assistant (regexes for reference codes, entity extractors, gazetteer, programme
  classifier, fallback);
* ``stock`` (``--pipelines ours,stock``) — the pipeline of ``config.stock.yml`` minus its
  ResponseSelector and fallback (DIET, 100 epochs; slow on 2 cores).

Multi-label intents (``flight#airfare``) are kept as labels of their own, as in the paper; a
test label never seen in training counts as wrong. Trained on the train split only. Duplicate training texts keep their first
label. Run from the repository root::

    PYTHONPATH=. .venv/bin/python -m bench.phoatis --data /path/to/JointIDSF/PhoATIS
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bot.settings import ROOT

#: Components of config.yml that serve this assistant's own contract, not intent reading.
_ASSISTANT_ONLY = {
    "RegexFeaturizer",
    "bot.nlu.crf.AnnotatedCRFEntityExtractor",
    "RegexEntityExtractor",
    "EntitySynonymMapper",
    "bot.nlu.gazetteer.VietnameseGazetteer",
    "bot.nlu.programme.ProgrammeClassifier",
    "FallbackClassifier",
    "ResponseSelector",
}
_CONFIGS = {"ours": "config.yml", "stock": "config.stock.yml"}
#: The published figures the note compares against (Dao et al. 2021, Table 3, word level).
PUBLISHED = {"JointIDSF (PhoBERT)": 0.9762}


def read_split(root: Path, level: str, split: str) -> list[tuple[str, str]]:
    """(text, label) pairs of one PhoATIS split (``seq.in`` and ``label`` line by line)."""
    folder = root / f"{level}-level" / split
    texts = (folder / "seq.in").read_text(encoding="utf-8").splitlines()
    labels = (folder / "label").read_text(encoding="utf-8").splitlines()
    if len(texts) != len(labels):
        raise SystemExit(f"{folder}: {len(texts)} texts but {len(labels)} labels")
    # Word level joins the syllables of a word with "_"; our tokenizer segments by itself.
    return [
        (t.replace("_", " ").strip(), lab.strip()) for t, lab in zip(texts, labels, strict=True)
    ]


def _intent_name(label: str) -> str:
    return label.replace("#", "__")


def nlu_yaml(pairs: list[tuple[str, str]]) -> str:
    """Rasa 3 NLU YAML for the training pairs (first label wins for a repeated text)."""
    by_intent: dict[str, list[str]] = {}
    seen: set[str] = set()
    for text, label in pairs:
        if not text or text in seen:
            continue
        seen.add(text)
        by_intent.setdefault(_intent_name(label), []).append(text)
    nlu = [
        {"intent": name, "examples": "".join(f"- {t}\n" for t in texts)}
        for name, texts in sorted(by_intent.items())
    ]
    return yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True, sort_keys=False)


_CLASSIFIER = "bot.nlu.classifier.SafeLogisticRegressionClassifier"


def nlu_config(which: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The NLU part of our config or the stock one, without assistant-only components.

    ``overrides`` (``ours`` only; see ``_overrides``) changes options of our classifier and
    featurizers for this run, so a variant is measured without editing ``config.yml``.
    """
    config = yaml.safe_load((ROOT / _CONFIGS[which]).read_text(encoding="utf-8"))
    pipeline = [c for c in config["pipeline"] if c["name"] not in _ASSISTANT_ONLY]
    for component in pipeline:
        key = component.get("alias") or component["name"]
        component.update((overrides or {}).get(key, {}))
    return {"recipe": "default.v1", "language": "vi", "pipeline": pipeline, "policies": []}


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Component options from the command line, keyed by featurizer alias or classifier name."""
    out: dict[str, dict[str, Any]] = {}
    if args.class_weight is not None:
        out.setdefault(_CLASSIFIER, {})["class_weight"] = args.class_weight
    if args.C is not None:
        out.setdefault(_CLASSIFIER, {})["C"] = args.C
    if args.char_ngrams is not None:
        low, high = (int(n) for n in args.char_ngrams.split(","))
        out["folded_chars"] = {"min_ngram": low, "max_ngram": high}
    if args.word_ngrams is not None:
        out["words"] = {"max_ngram": args.word_ngrams}
    return out


def train_and_score(
    which: str,
    train: list[tuple[str, str]],
    test: list[tuple[str, str]],
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train one pipeline on ``train``, parse every ``test`` text, return accuracy and timings."""
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # One line per parsed message otherwise (Rasa's structlog debug output).
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix=f"phoatis-{which}-") as tmp:
        work = Path(tmp)
        config = yaml.safe_dump(nlu_config(which, overrides))
        (work / "config.yml").write_text(config, encoding="utf-8")
        (work / "nlu.yml").write_text(nlu_yaml(train), encoding="utf-8")
        started = time.perf_counter()
        model_path = train_nlu(
            config=str(work / "config.yml"),
            nlu_data=str(work / "nlu.yml"),
            output=str(work / "models"),
            fixed_model_name=which,
        )
        training_seconds = time.perf_counter() - started
        if not model_path:
            raise SystemExit(f"{which}: training produced no model")
        agent = Agent.load(model_path)

        async def parse_all() -> list[str]:
            names = []
            for text, _ in test:
                parsed = await agent.parse_message(text)
                names.append((parsed.get("intent") or {}).get("name") or "")
            return names

        started = time.perf_counter()
        predicted = asyncio.run(parse_all())
        parse_seconds = time.perf_counter() - started
    correct = sum(p == _intent_name(gold) for p, (_, gold) in zip(predicted, test, strict=True))
    confusions = Counter(
        (gold, p.replace("__", "#"))
        for p, (_, gold) in zip(predicted, test, strict=True)
        if p != _intent_name(gold)
    )
    return {
        "pipeline": which,
        "overrides": overrides or {},
        "accuracy": correct / len(test),
        "correct": correct,
        "total": len(test),
        "training_seconds": round(training_seconds, 1),
        "parse_ms_mean": round(1000 * parse_seconds / len(test), 2),
        "top_confusions": [f"{g} -> {p}: {n}" for (g, p), n in confusions.most_common(8)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="the PhoATIS folder of a JointIDSF checkout"
    )
    parser.add_argument("--level", choices=["syllable", "word"], default="syllable")
    parser.add_argument("--pipelines", default="ours", help="comma-separated: ours, stock")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    # Variants of ``ours`` (config.yml's values otherwise); the stock pipeline ignores them.
    parser.add_argument(
        "--class-weight", choices=["balanced", "none"], help="the classifier's class_weight"
    )
    parser.add_argument("--C", type=float, help="the classifier's inverse regularisation")
    parser.add_argument(
        "--char-ngrams", metavar="MIN,MAX", help="n-gram range of the folded_chars featurizer"
    )
    parser.add_argument(
        "--word-ngrams", type=int, metavar="N", help="max_ngram of the words featurizer"
    )
    args = parser.parse_args(argv)
    if not (args.data / f"{args.level}-level" / "train" / "seq.in").is_file():
        raise SystemExit(
            f"{args.data} is not a PhoATIS folder (no {args.level}-level/train/seq.in)"
        )
    # Train split only, as the published models (dev is for their model selection, which a
    # fixed pipeline does not do).
    train = read_split(args.data, args.level, "train")
    test = read_split(args.data, args.level, "test")
    print(f"PhoATIS {args.level} level: {len(train)} training, {len(test)} test messages")
    overrides = _overrides(args)
    if overrides:
        print(f"  options changed from config.yml (ours): {json.dumps(overrides)}")
    results = []
    for which in [p.strip() for p in args.pipelines.split(",") if p.strip()]:
        if which not in _CONFIGS:
            raise SystemExit(f"unknown pipeline {which!r}; choose from {', '.join(_CONFIGS)}")
        result = train_and_score(which, train, test, overrides if which == "ours" else None)
        results.append(result)
        print(
            f"  {which:<6} intent accuracy {result['accuracy']:.4f} ({result['correct']}/{result['total']}),"
            f" trained in {result['training_seconds']} s, parse {result['parse_ms_mean']} ms/message"
        )
        for line in result["top_confusions"]:
            print(f"         {line}")
    for name, figure in PUBLISHED.items():
        print(f"  published: {name} {figure:.4f}")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
