"""Announcements to citizens who asked for them (issue 16): subscriptions with their consent
record (``subscriptions``), composing and approving (``service``), what each platform allows
(``rules``, from ``content/platform_rules.yml``), the messages as each channel shows them
(``render``), choosing recipients and recording their outcome (``delivery``), the send rate shared
by every worker (``ratelimit``) and the per-announcement report (``report``).

A service package: it imports no Rasa and none of the adapters; the sender that talks HTTP to the
platforms is ``bot.notify.announcements``.
"""
