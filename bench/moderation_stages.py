"""Where moderation spends its time on the slowest messages (issue 12: under 1 ms at p95).

``bench.moderation_speed`` says how long the whole policy takes; this says which stage of it,
for the messages that make the p95: the slowest tenth (``--share``) of the bench's messages, by
the CPU time of the whole policy on each. Each of those is then taken apart, stage by stage, as
a running process meets a new message (every cache of the last message emptied first):

* ``views``: :func:`bot.moderation.normalise` (the text, folded and de-obfuscated views);
* ``word index``: the views' words and word pairs with their offsets;
* ``prefilter``: :meth:`bot.moderation.prefilter.Prefilter.candidates`;
* ``links`` and ``quotations``: :func:`engine.find_urls`, :func:`engine.quoted_spans`;
* ``rules``: the rest of :func:`engine.match_rules`, the regexes of the rules worth running;
* ``decision``: the rules' verdict from their hits;
* ``learned opinion``: :func:`bot.moderation.gate.apply_policy` on that verdict (the model's
  second opinion and what it asks of the rules again).

    PYTHONPATH=. .venv/bin/python -m bench.moderation_stages [--rounds 3] [--share 0.1]

The stages are timed one after another with the thread's CPU clock, so they add up to about the
whole (printed beside them); a stage's share says where a speed-up could come from.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections import Counter

from bench.moderation_speed import messages
from bot.moderation import load_rules, moderate
from bot.moderation.gate import apply_policy

#: The stages, in the order a message meets them.
STAGES = ("views", "word index", "prefilter", "links", "quotations", "rules", "decision",
          "learned opinion")


def slowest(texts: list[str], share: float) -> list[str]:
    """The ``share`` of ``texts`` the whole policy takes longest on (after a warm-up pass)."""
    rules = load_rules()
    for text in texts:
        apply_policy(moderate(text, rules), text)
    timed = []
    for text in texts:
        started = time.thread_time()
        apply_policy(moderate(text, rules), text)
        timed.append((time.thread_time() - started, text))
    timed.sort(key=lambda pair: pair[0])
    return [text for _, text in timed[int(len(timed) * (1 - share)):]]


def stage_times(texts: list[str], rounds: int) -> Counter[str]:
    """Mean microseconds per message of each of :data:`STAGES` over ``texts``."""
    # The submodules, not the names bot.moderation re-exports (``normalise`` is both).
    engine = importlib.import_module("bot.moderation.engine")
    normalising = importlib.import_module("bot.moderation.normalise")
    learned = importlib.import_module("bot.moderation.learned")
    rules = load_rules()
    model = learned.learned_model()
    clock = time.thread_time_ns
    total: Counter[str] = Counter()
    for _ in range(rounds):
        for text in texts:
            # A new message: nothing of the last one may serve it.
            normalising.normalise.cache_clear()
            engine._quoted_spans.cache_clear()
            rules.prefilter._last = None
            engine._last_reports = None
            model._last = None
            t0 = clock()
            norm = normalising.normalise(text)
            t1 = clock()
            norm.folded_words, norm.compact_words  # noqa: B018 - built here, on first use
            t2 = clock()
            rules.prefilter.candidates(norm)
            t3 = clock()
            engine.find_urls(norm, rules)
            t4 = clock()
            engine.quoted_spans(norm.text)
            t5 = clock()
            hits = engine.match_rules(norm, rules)  # the prefilter and quotations are kept
            t6 = clock()
            verdict = engine._decide(hits, rules, norm.text)
            t7 = clock()
            apply_policy(verdict, text, rules=rules)
            t8 = clock()
            links = t4 - t3
            total.update({
                "views": t1 - t0, "word index": t2 - t1, "prefilter": t3 - t2, "links": links,
                "quotations": t5 - t4,
                "rules": max(0, t6 - t5 - links),  # match_rules looks for the links again
                "decision": t7 - t6, "learned opinion": t8 - t7,
            })
    count = rounds * len(texts)
    return Counter({stage: total[stage] / count / 1000 for stage in STAGES})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.1,
                        help="the slowest share of the messages to take apart (default 0.1)")
    parser.add_argument("--dev-only", action="store_true",
                        help="the dev sets and training lines only, not the blind sets")
    args = parser.parse_args(argv)
    if not 0 < args.share <= 1:
        parser.error("--share must be above 0 and at most 1")
    texts = slowest(messages(args.dev_only), args.share)
    means = stage_times(texts, args.rounds)
    whole = sum(means.values())
    print(f"$ PYTHONPATH=. .venv/bin/python -m bench.moderation_stages {' '.join(sys.argv[1:])}")
    print(f"the slowest {args.share:.0%} of the messages ({len(texts)}), x {args.rounds} rounds, "
          f"CPU clock, every cache of the last message emptied")
    for stage in STAGES:
        print(f"  {stage:<16} {means[stage]:7.1f} µs  {means[stage] / whole:5.1%}")
    print(f"  {'all stages':<16} {whole:7.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
