"""Run a prediction graph in plain Python instead of through dask's scheduler.

Rasa 3.6 runs every ``/model/parse`` and every dialogue prediction through ``dask.get`` over a
graph of some twenty nodes, each a plain function of its parents' outputs. Dask's local
scheduler was written for parallel work on large graphs: for one message it orders the graph,
builds its bookkeeping and wraps each call, and in stop 41's profile of ``/model/parse`` that
cost about a sixth of the parse, as much as the intent classifier itself. Issue 11 caps parse
latency at 1.5 times what it was when the issue was filed.

:func:`run_graph` computes the same thing for a dask graph in Rasa's form (``{key: (callable,
*parent keys)}``, inputs as ``{key: (key, value)}`` literals): each target's parents first, each
node once, in the order the graph names them. It is used only for graphs run on a message or a
tracker (:func:`bot.conversation.rasa_patches._patch_graph_runner`); training keeps dask.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any


def run_graph(graph: dict[str, Any], targets: list[str]) -> list[Any]:
    """The values of ``targets`` in ``graph``, as ``dask.get(graph, targets)`` returns them for
    a graph whose tasks are ``(callable, *keys)`` and whose other values are literals."""
    done: dict[str, Any] = {}

    def value(key: str) -> Any:
        if key in done:
            return done[key]
        task = graph[key]
        if isinstance(task, tuple) and task and callable(task[0]):
            args = [value(arg) if isinstance(arg, Hashable) and arg in graph else arg
                    for arg in task[1:]]
            result = task[0](*args)
        else:
            result = task
        done[key] = result
        return result

    return [value(target) for target in targets]
