"""Load at start-up what the first citizens would otherwise wait for.

The action server builds its content lazily: the knowledge base and the unit tree (YAML parsing),
the moderation rules (a few hundred regular expressions, about 1.5 s to compile on this machine's
cores) and the feedback DB engine (migrations, unit sync). Measured before this existed, the first
feedback message after a start took 1.5 s instead of about 60 ms. Doing it once before the server
answers readiness keeps that cost out of every citizen's turn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


def _steps() -> list[tuple[str, Callable[[], object]]]:
    from bot.db.runtime import get_engine
    from bot.knowledge.content import knowledge_base, unit_tree
    from bot.moderation.rules import load_rules

    return [
        ("knowledge base", knowledge_base),
        ("units", unit_tree),
        ("moderation rules", load_rules),
        ("feedback database", get_engine),
    ]


def warm_action_server() -> dict[str, float]:
    """Run every loading step once; return seconds per step (failed steps are logged, skipped).

    A step that fails (the database still starting, say) is not fatal: the same code runs again
    lazily on the first message, exactly as without the warm-up.
    """
    timings: dict[str, float] = {}
    for name, step in _steps():
        started = time.perf_counter()
        try:
            step()
        except Exception as error:  # noqa: BLE001 - warm-up must never stop the server
            logger.warning("warm-up: %s not loaded yet (%s); it loads on first use", name, error)
            continue
        timings[name] = time.perf_counter() - started
    logger.info(
        "warm-up done: %s",
        ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in timings.items()),
    )
    return timings
