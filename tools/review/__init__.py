"""`./mttq review`: turn what citizens really typed into training data, by hand.

Two steps, with a trainer in between:

``export`` (tools/review/export.py)
    Reads Rasa's SQL tracker store (the ``events`` table of ``SQLTrackerStore``; SQLite or
    PostgreSQL) and writes a YAML review file of the citizen messages the assistant handled
    badly: those that fell back (``nlu_fallback``), those whose top intent was below the
    fallback threshold, and the question a citizen was answering when they said the answer did
    not help (``not_helpful`` slot). Phone numbers are masked, sender ids are replaced by a
    keyed hash that only groups the entries of one file, and texts are deduplicated.
``merge`` (tools/review/merge.py)
    Reads the labelled file and appends each labelled text to ``<nlu_dir>/review/<intent>.yml``
    unless it (folded) is already in the training data, and refuses any text of the held-out
    evaluation split so the evaluation stays honest.

What both steps must agree on (the intents a label may name, masking) is in common.py; the
command line is __main__.py (``python -m tools.review``, or ``./mttq review`` through
tools/cli.py).
"""
