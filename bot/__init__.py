"""A Telegram bot that turns voice messages into text."""
