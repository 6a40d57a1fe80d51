"""What the assistant knows and how it says it: the programme knowledge base, the unit tree,
the editable content they are read from, and the answers composed from them. No Rasa, no platform.
"""
