"""python-telegram-bot handlers: read the update, call a service, reply."""
