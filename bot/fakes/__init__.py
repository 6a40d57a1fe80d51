"""Local fakes of the external platforms (Telegram Bot API, Facebook Graph API, Zalo OA API).

Those platforms are unreachable from here, so tests, benchmarks and offline demos talk to these
aiohttp servers on 127.0.0.1 instead, through the real client libraries and our configurable
base URLs. Each fake speaks the documented request and response formats. Production code never
imports this package (``tests/test_architecture.py`` checks it).
"""
