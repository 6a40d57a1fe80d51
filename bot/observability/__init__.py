"""Operations: health and readiness endpoints, structured logs and Prometheus metrics.

Every process of the assistant (Rasa, the action server, the web service, the proxy) answers the
same three questions the same way, so one dashboard and one alert set cover all of them:

* ``/health`` — the process is alive (liveness; never touches a dependency);
* ``/ready`` — the process can do its work now (its model, its databases, its lock store);
  ``503`` with the failing check otherwise, so a load balancer stops sending it traffic;
* ``/metrics`` — counters and histograms in Prometheus' text format, one registry per process.

Logs are one line per record, JSON (``LOG_FORMAT=json``) or readable text, always with the
process role and, while a conversation is being handled, its conversation id. Vietnamese phone
numbers are masked before anything is written: a citizen's phone never reaches a log file.

Modules: :mod:`~bot.observability.logs` (formatters, the conversation context, masking),
:mod:`~bot.observability.metrics` (registries and metric definitions),
:mod:`~bot.observability.readiness` (dependency checks), and one adapter per process:
:mod:`~bot.observability.rasa_ops` and :mod:`~bot.observability.rasa_events` (Rasa),
:mod:`~bot.observability.action_server` (rasa_sdk), :mod:`~bot.observability.web_ops` (aiohttp).
Nothing here imports Rasa except the Rasa and action server adapters.
"""
