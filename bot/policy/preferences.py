"""Which model, language and output options apply to a user's next transcript."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from bot.stt.catalogue import ModelSpec, UnknownModelError, get_model
from storage.preferences import PreferenceRepository, StoredPreferences


class ModelNotOfferedError(LookupError):
    """The model exists but this bot does not offer it (another backend, or ALLOWED_MODELS)."""


@dataclass(frozen=True, slots=True)
class OutputOptions:
    """How a user wants transcripts shown. A snapshot is stored with each job."""

    timestamps: bool = False
    speakers: bool = False
    attach: str | None = None  # "srt" or "txt": a file alongside the text
    show_language: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutputOptions:
        attach = data.get("attach")
        return cls(
            timestamps=bool(data.get("timestamps", False)),
            speakers=bool(data.get("speakers", False)),
            attach=attach if attach in ("srt", "txt") else None,
            show_language=bool(data.get("show_language", False)),
        )


@dataclass(frozen=True, slots=True)
class Choice:
    model: ModelSpec
    language: str | None  # None: detect
    options: OutputOptions


TOGGLES = ("timestamps", "speakers", "show_language")


class PreferencesService:
    def __init__(
        self,
        repository: PreferenceRepository,
        *,
        default_model: str,
        allowed_models: tuple[str, ...],
        models: Sequence[ModelSpec],
    ) -> None:
        """`models`: every model the backend offers, before `allowed_models` narrows them."""
        self._repository = repository
        pool = models
        allowed = set(allowed_models)
        self.offered: tuple[ModelSpec, ...] = tuple(
            spec for spec in pool if not allowed or spec.id in allowed
        )
        if not self.offered:
            raise ValueError("ALLOWED_MODELS leaves no model for this backend")
        offered_ids = {spec.id for spec in self.offered}
        self.default_model = (
            get_model(default_model) if default_model in offered_ids else self.offered[0]
        )

    def offered_model(self, model_id: str) -> ModelSpec:
        spec = get_model(model_id)  # raises UnknownModelError
        if spec not in self.offered:
            raise ModelNotOfferedError(model_id)
        return spec

    def is_offered(self, model_id: str) -> bool:
        try:
            self.offered_model(model_id)
        except (UnknownModelError, ModelNotOfferedError):
            return False
        return True

    async def stored(self, user_id: int) -> StoredPreferences:
        return await self._repository.get(user_id)

    async def choice_for(self, user_id: int | None) -> Choice:
        stored = await self._repository.get(user_id) if user_id is not None else StoredPreferences()
        model = self.default_model
        if stored.model and self.is_offered(stored.model):
            model = get_model(stored.model)
        options = OutputOptions(
            timestamps=stored.timestamps,
            speakers=stored.speakers,
            attach=stored.attach,
            show_language=stored.show_language,
        )
        return Choice(model=model, language=stored.language, options=options)

    async def set_model(self, user_id: int, model_id: str) -> ModelSpec:
        spec = self.offered_model(model_id)
        stored = await self._repository.get(user_id)
        await self._repository.save(user_id, replace(stored, model=spec.id))
        return spec

    async def set_language(self, user_id: int, language: str | None) -> None:
        stored = await self._repository.get(user_id)
        await self._repository.save(user_id, replace(stored, language=language))

    async def toggle(self, user_id: int, option: str) -> StoredPreferences:
        if option not in TOGGLES:
            raise ValueError(option)
        stored = await self._repository.get(user_id)
        flipped: dict[str, bool] = {option: not getattr(stored, option)}
        updated = replace(stored, **flipped)  # type: ignore[arg-type]
        await self._repository.save(user_id, updated)
        return updated

    async def set_attach(self, user_id: int, attach: str | None) -> StoredPreferences:
        stored = await self._repository.get(user_id)
        updated = replace(stored, attach=attach if attach in ("srt", "txt") else None)
        await self._repository.save(user_id, updated)
        return updated

    async def forget(self, user_id: int) -> None:
        await self._repository.delete(user_id)
