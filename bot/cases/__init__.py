"""Cases: from a citizen's petition or feedback to a resolved case — intake, filing,
routing, deadlines, casework, status and hand-off to a person. Plain services: no Rasa, no platform.
"""
