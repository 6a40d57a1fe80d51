"""The aiohttp web service: app factory by role (staff, worker, all), the citizens' chat page,
the handoff monitor, and who the client of a request is. The staff pages are :mod:`bot.staff`."""
