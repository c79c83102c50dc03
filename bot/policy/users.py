"""Recording the people who write to the bot."""

from __future__ import annotations

from storage.users import UserProfile, UserRecord, UserRepository


class UserService:
    def __init__(self, users: UserRepository) -> None:
        self._users = users

    async def touch(
        self,
        user_id: int,
        *,
        first_name: str | None,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> None:
        await self._users.touch(
            UserProfile(user_id, first_name, last_name, username, language_code)
        )

    async def get(self, user_id: int) -> UserRecord | None:
        return await self._users.get(user_id)
