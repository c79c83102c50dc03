"""Every text the bot shows to users, in one place so it can be translated later."""

from __future__ import annotations

BOT_NAME = "Voice to Text"

START = (
    "Hi! I turn voice messages into text.\n\n"
    "Send or forward me a voice note, an audio file, a round video note or a video, and I will "
    "reply with its transcript. Add me to a group and I can transcribe what members post there.\n\n"
    "/help lists what I understand."
)

HELP = (
    "What I transcribe: voice notes, audio files, round video notes, videos, and audio or "
    "video documents, up to {max_mb} MB each.\n\n"
    "Commands:\n"
    "/model – choose the speech-to-text model\n"
    "/language – the language of your audio, or automatic detection\n"
    "/settings – timestamps, speaker labels, files and more\n"
    "/usage – how much of your quota you have used\n"
    "/forget – delete everything I store about you\n"
    "/help – this message"
)

COMMAND_DESCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("start", "What this bot does"),
    ("help", "What I transcribe and my commands"),
    ("model", "Choose the speech-to-text model"),
    ("language", "Set the audio language or automatic detection"),
    ("settings", "Timestamps, speakers, files"),
    ("usage", "Your quota and usage"),
    ("forget", "Delete your data"),
)

TRANSCRIBING = "Transcribing…"
NO_SPEECH = "No speech recognised."
SENT_AS_FILE = "The transcript is long, so here it is as a file."
TRANSCRIPT_FILE_CAPTION = "Transcript"

FILE_TOO_BIG = (
    "This file is {size_mb:.1f} MB. Telegram lets bots download files of up to {limit_mb:.0f} MB, "
    "so I cannot transcribe it. Please send a shorter recording."
)

FAILURES: dict[str, str] = {
    "api_error": "Sorry, the speech-to-text service failed on this one. Please try again later.",
    "out_of_credits": (
        "Sorry, the speech-to-text service is out of credits right now. The operator has to top "
        "it up; please try again later."
    ),
    "auth": (
        "Sorry, the bot's speech-to-text service is not configured correctly. The operator has "
        "been told in the logs."
    ),
    "timeout": "Sorry, transcription took too long and I gave up. Please try again.",
    "corrupt": "Sorry, I could not read this audio. The file may be damaged or in a format I "
    "do not support.",
    "too_big": "Sorry, this file is too big for me to download from Telegram (the limit is 20 MB).",
    "download_failed": "Sorry, I could not download this file from Telegram. Please send it again.",
    "rate_limited": "Sorry, the speech-to-text service is busy. Please try again in a minute.",
    "unsupported_model": "Sorry, the chosen model is not available. Pick another one with /model.",
    "internal": "Sorry, something went wrong on my side. Please try again.",
}


def failure(reason: str) -> str:
    return FAILURES.get(reason, FAILURES["internal"])


UNSUPPORTED_FILE = (
    "I can only transcribe audio and video. This file does not look like either; if it is, "
    "send it as an audio file or a voice message."
)
TEXT_HINT = "Send me a voice message, an audio file or a video, and I will transcribe it."
