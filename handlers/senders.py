"""Who a message is from, for charging and for ignoring bots.

A message sent on behalf of a chat (an anonymous group admin, whose `from` is Telegram's
GroupAnonymousBot placeholder, or a channel's post in its discussion group) carries
`sender_chat`. It has no user to charge: the pipeline then charges the chat.
"""

from __future__ import annotations

from telegram import Message


def requester_id(message: Message) -> int | None:
    """The user a request is charged to, or None for a message sent on behalf of a chat."""
    if message.sender_chat is not None:
        return None
    user = message.from_user
    return None if user is None else user.id


def sender_chat_id(message: Message) -> int | None:
    return None if message.sender_chat is None else message.sender_chat.id


def is_from_a_bot(message: Message) -> bool:
    """Messages from bots, this one included. Not the placeholder `from` of chat senders."""
    user = message.from_user
    return message.sender_chat is None and user is not None and user.is_bot
