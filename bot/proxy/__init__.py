"""A small reverse proxy in front of a pool of identical servers (Rasa replicas, action servers).

``python -m bot.proxy --listen 127.0.0.1:5005 --upstream http://127.0.0.1:5011 --upstream
http://127.0.0.1:5012 --health-path /status``. Conversation affinity and upstream choice are in
:mod:`bot.proxy.balancer`, forwarding and health checks in :mod:`bot.proxy.app`.
"""

from bot.proxy.app import ProxyOptions, create_app
from bot.proxy.balancer import Balancer, affinity_key, rank

__all__ = ["Balancer", "ProxyOptions", "affinity_key", "create_app", "rank"]
