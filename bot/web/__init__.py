"""The aiohttp web service: the citizens' web chat page (and, as it grows, the staff console)."""
