"""Rasa input and output channels for Facebook Messenger and Zalo OA, and the bounded chat page
(REST) channel: webhook verification, signatures, de-duplication, rendering buttons per
platform, and mapping each platform's send errors onto :mod:`bot.delivery.errors`.
"""
