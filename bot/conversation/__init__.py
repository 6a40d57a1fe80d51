"""Rasa plumbing: the dialogue policy, tracker and lock stores, per-process patches, warm-up,
bounded turns and erasure inside the conversation store. The only package besides ``nlu`` and
``channels`` that knows Rasa.
"""
