"""Vietnamese text: Unicode composition, tone-mark placement, teencode, diacritic folding.
One module that the NLU components, moderation and the services all use; no Rasa import.
"""
