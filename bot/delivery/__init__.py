"""Getting a message out: the outbox (one function queues every delivery), what a sender is
given and answers, the citizen-side sender (through Rasa into the channel the citizen used), and
the delivery errors that every channel maps its platform's failures onto. The worker that drains
the outbox and the Telegram sender live in :mod:`bot.notify`.
"""
