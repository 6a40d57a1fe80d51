"""Rasa NLU graph components for Vietnamese: normalisation and word segmentation (over
:mod:`bot.vietnamese`), the gazetteer of places and units, the CRF entity extractor, the intent
classifier and the programme classifier. Only ``config.yml`` and these modules use this package.
"""
