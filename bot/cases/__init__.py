"""Cases: from a citizen's petition or feedback to a resolved case — intake, filing, lookup,
routing, deadlines, casework, status, hand-off to a person and erasure of personal data.
Plain services: no Rasa, no platform.
"""
