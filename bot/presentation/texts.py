"""Every text the bot shows to users, in one place, in English: the message ids of the catalogues.

How a text is translated (bot/presentation/i18n.py; the catalogues are bot/locales/):

- A text users read is marked where it is defined: `N_("...")` for a plain text,
  `Plural("{n} job", "{n} jobs")` for one with a count. Both return their English unchanged;
  the marks are what `pybabel extract` looks for.
- It is translated where it is shown, with the reader's `Translator` (`tr`), which the caller
  passes down: `tr(texts.START)`, `tr.render(texts.MODEL_SET, model=...)` (translate, then fill
  in the placeholders), `tr.render_plural(texts.JOB_COUNT, n)` (the form the reader's language
  needs for n: English and most have 2, Russian and Ukrainian 3, Arabic 6).
- Numbers, dates and durations are formatted by the translator and replies.py (Babel), never
  with an f-string, so "1,5 Min." and "2 июня 2025 г." come out right.
- Placeholders keep their {names} in every language; a test fails when a catalogue lacks a
  text, or changes or drops a placeholder. So a new or changed text needs its translations:

      .venv/bin/pybabel extract -F babel.cfg --no-default-keywords -k N_ -k Plural:1,2 \\
          --add-comments=TRANSLATORS: --omit-header --no-location -w 100 \\
          -o bot/locales/messages.pot .
      .venv/bin/pybabel update -i bot/locales/messages.pot -d bot/locales -D messages \\
          --no-fuzzy-matching --ignore-obsolete -w 100

  then fill in the empty `msgstr` of every bot/locales/*/LC_MESSAGES/messages.po (a comment
  starting with "TRANSLATORS:" just above a text reaches the translators).
- Not marked, so in English for everyone: what only the operator reads (the ADMIN_* texts of
  the admin commands, and the support requests forwarded to them, like the logs and the
  environment variables they name), and what has no words (marks, emoji, model labels).
"""

from __future__ import annotations

from bot.failures import FailureReason
from bot.presentation.i18n import N_, Plural

START = N_(
    "Hi! I turn voice messages into text.\n\n"
    "Send or forward me a voice note, an audio file, a round video note or a video, and I will "
    "reply with its transcript. Add me to a group and I can transcribe what members post there.\n\n"
    "/help lists what I understand."
)

HELP = N_(
    "What I transcribe: voice notes, audio files, round video notes, videos, and audio or "
    "video documents, up to {max_mb} MB each.\n\n"
    "Commands:\n"
    "/model – choose the speech-to-text model\n"
    "/language – the language of your audio, or automatic detection\n"
    "/settings – timestamps, speaker labels, files, the language I speak, and more\n"
    "/usage – how much of your quota you have used\n"
    "/forget – delete everything I store about you\n"
    "/transcribe – reply with it to a voice note to transcribe that note\n"
    "/help – this message\n\n"
    "In groups, administrators choose with /groupmode whether I transcribe every voice note, "
    "only those I am asked for with /transcribe, or none, and with /grouplanguage which "
    "language I speak there."
)

COMMAND_DESCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("start", N_("What this bot does")),
    ("help", N_("What I transcribe and my commands")),
    ("model", N_("Choose the speech-to-text model")),
    ("language", N_("Set the audio language or automatic detection")),
    ("settings", N_("Timestamps, speakers, files, interface language")),
    ("usage", N_("Your quota and usage")),
    ("forget", N_("Delete your data")),
    ("transcribe", N_("Reply to a voice note with this to transcribe it")),
)
# Listed (and in /help) only while STARS_PACKS is set.
PAYMENT_COMMAND_DESCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("buy", N_("Buy more transcription time")),
    ("paysupport", N_("Help with a payment or a refund")),
)
HELP_PAYMENTS = N_(
    "\n\nMore time: /buy adds transcription time, paid with Telegram Stars; it never expires. "
    "/paysupport helps with a payment or a refund."
)

TRANSCRIBING = N_("Transcribing…")
# The status message of a long recording, edited as the job goes (bot/pipeline/progress.py):
# the share done where the engine says it (the local one), else the time it has taken so far.
# TRANSLATORS: a long recording being transcribed: "Transcribing… 42 % · 12:30 of 29:41" (the
# share done, the point reached in the recording, and its length).
PROGRESS = N_("Transcribing… {percent} % · {done} of {total}")
# TRANSLATORS: "Transcribing 29:41 of audio… 01:15 so far": the recording's length, then the
# time the transcription has taken until now.
ELAPSED = N_("Transcribing {total} of audio… {elapsed} so far")
# TRANSLATORS: as above, for a recording of unknown length: "Transcribing… 01:15 so far".
ELAPSED_UNKNOWN_LENGTH = N_("Transcribing… {elapsed} so far")
NO_SPEECH = N_("No speech recognised.")
SENT_AS_FILE = N_("The transcript is long, so here it is as a file.")
TRANSCRIPT_FILE_CAPTION = N_("Transcript")
# TRANSLATORS: a label before a speaker's words in a transcript: "Speaker 2: hello".
SPEAKER = N_("Speaker {n}")
# TRANSLATORS: the last line of a transcript; {language} is a code such as "de".
TRANSCRIPT_LANGUAGE = N_("Language: {language}")

RECORDING_TOO_LONG = (
    "This recording is {length} long. I transcribe recordings of up to {limit}, so please "
    "send a shorter one."
)
FILE_TOO_BIG = N_(
    "This file is {size_mb} MB. Telegram lets bots download files of up to {limit_mb} MB, "
    "so I cannot transcribe it. Please send a shorter recording."
)

# One text per failure reason (bot/failures.py); a test checks none is missing.
FAILURES: dict[FailureReason, str] = {
    FailureReason.API_ERROR: N_(
        "Sorry, the speech-to-text service failed on this one. Please try again later."
    ),
    FailureReason.OUT_OF_CREDITS: N_(
        "Sorry, the speech-to-text service is out of credits right now. The operator has to top "
        "it up; please try again later."
    ),
    FailureReason.AUTH: N_(
        "Sorry, the bot's speech-to-text service is not configured correctly. The operator has "
        "been told in the logs."
    ),
    FailureReason.TIMEOUT: N_(
        "Sorry, transcription took too long and I gave up. Please try again."
    ),
    FailureReason.CORRUPT: N_(
        "Sorry, I could not read this audio. The file may be damaged or in a format I "
        "do not support."
    ),
    FailureReason.TOO_BIG: N_(
        "Sorry, this file is too big for me to download from Telegram (the limit is 20 MB)."
    ),
    FailureReason.DOWNLOAD_FAILED: N_(
        "Sorry, I could not download this file from Telegram. Please send it again."
    ),
    FailureReason.RATE_LIMITED: N_(
        "Sorry, the speech-to-text service is busy. Please try again in a minute."
    ),
    FailureReason.UNSUPPORTED_MODEL: N_(
        "Sorry, the chosen model is not available. Pick another one with /model."
    ),
    FailureReason.INTERNAL: N_("Sorry, something went wrong on my side. Please try again."),
    FailureReason.QUOTA: N_(
        "Sorry, this recording does not fit in your quota. /usage shows what is left and when "
        "it resets."
    ),
    FailureReason.TOO_LONG: N_("Sorry, this recording is longer than I can transcribe."),
    # Nobody reads this one (the chat is gone); it keeps every reason worded.
    FailureReason.CHAT_GONE: N_("Sorry, I could not reach this chat."),
}


def failure(reason: str) -> str:
    """The English text (the message id) of a failure reason; translate it with `tr`."""
    return FAILURES[FailureReason.parse(reason)]


UNSUPPORTED_FILE = N_(
    "I can only transcribe audio and video. This file does not look like either; if it is, "
    "send it as an audio file or a voice message."
)
TEXT_HINT = N_("Send me a voice message, an audio file or a video, and I will transcribe it.")

# --- quotas, access, admins, /forget, groups (presentation/replies.py fills these in) ------

# TRANSLATORS: durations are made of one or two of these units: "1 h 5 min", "3 d 4 h".
# Abbreviations are fine; full words too, in the form the count needs.
UNIT_DAYS = Plural("{n} d", "{n} d")
UNIT_HOURS = Plural("{n} h", "{n} h")
UNIT_MINUTES = Plural("{n} min", "{n} min")
UNIT_SECONDS = Plural("{n} s", "{n} s")
# TRANSLATORS: seconds with a fraction, such as "9.5 s".
UNIT_SECONDS_FRACTION = N_("{decimal} s")
# TRANSLATORS: a moment: "2 June 2025, 00:00 UTC (in 3 h 12 min)"; {until} is a duration.
MOMENT = N_("{date}, {time} UTC (in {until})")
UNLIMITED = N_("unlimited")

ACCESS_REFUSED_PRIVATE = N_(
    "Sorry, this bot is private: it works only for people its operator has allowed.\n\n"
    "If you know the operator, send them your user id: {user_id}"
)
ACCESS_REFUSED_GROUP = N_(
    "Sorry, this bot is private, and it is not open to this group.\n\n"
    "If you know its operator, ask them to allow this group (chat id {chat_id}){user_part}."
)
# TRANSLATORS: the end of the sentence above, before its full stop.
ACCESS_REFUSED_GROUP_USER = N_(" or you (user id {user_id})")

# One whole text per period, so each language can word "daily" and "monthly" as it needs.
QUOTA_EXCEEDED: dict[str, str] = {
    "day": N_(
        "Sorry, this recording does not fit in your daily quota, so I have not transcribed "
        "it.\n\n"
        "It is {needed} long. You have used {used} of {limit}, leaving {left}.\n"
        "The daily quota resets on {resets}."
    ),
    "month": N_(
        "Sorry, this recording does not fit in your monthly quota, so I have not transcribed "
        "it.\n\n"
        "It is {needed} long. You have used {used} of {limit}, leaving {left}.\n"
        "The monthly quota resets on {resets}."
    ),
}
# The bot-wide ceiling (BUDGET_DAILY_SECONDS): nobody's own quota, so no numbers of theirs.
BUDGET_REACHED = N_(
    "Sorry, the bot has used up today's transcription budget, so I have not transcribed this "
    "recording. Please send it again after {resets}."
)
ADMIN_BUDGET_REACHED = (
    "The bot has reached its daily budget (BUDGET_DAILY_SECONDS: {limit} of audio a day) and "
    "is refusing new recordings until {resets}. I tell you this once a day."
)

FLOOD_IN_FLIGHT = Plural(
    "You already have {n} recording being transcribed. Please send this one again when "
    "it is done.",
    "You already have {n} recordings being transcribed. Please send this one again when "
    "one of them is done.",
)
FLOOD_PER_MINUTE = Plural(
    "That is more than {n} recording in a minute. Please wait {wait} and send this one again.",
    "That is more than {n} recordings in a minute. Please wait {wait} and send this one again.",
)

USAGE = N_(
    "Your usage\n\n"
    "Today: {day_used} used of {day_limit}, {day_left} left.\n"
    "Resets on {day_resets}.\n\n"
    "This month: {month_used} used of {month_limit}, {month_left} left.\n"
    "Resets on {month_resets}.\n\n"
    "Model: {model}"
)
USAGE_ADMIN = N_("You are an admin: quotas do not limit you.")

# Shown when a refusal's numbers include bought time.
QUOTA_BALANCE = N_("\nYour bought time ({balance}) does not cover the rest either.")

FORGET_CONFIRM = N_(
    "Delete everything I store about you: your profile, settings, history and totals?\n\n"
    "This cannot be undone. What you used today and this month stays counted, anonymously, "
    "until the month ends, so this does not reset your quota."
)
FORGET_YES = N_("Yes, delete it")
FORGET_NO = N_("Cancel")
FORGET_DONE = N_("Done: I deleted your profile, settings, history and totals.")
FORGET_CANCELLED = N_("Nothing was deleted.")
FORGET_NOT_YOURS = N_("This button is for the person who asked.")
# Added to the question and to the confirmation while payments are shown to the user.
FORGET_KEEPS_PAYMENTS = N_(
    "\n\nRecords of your payments are kept, as the law requires: the amount, the date and "
    "what was bought."
)

# --- buying time with Telegram Stars (presentation/replies.py fills these in) --------------

STARS = "{n} ⭐"
BUY_MENU = N_(
    "Buy transcription time with Telegram Stars.\n\n"
    "Bought time never expires: it is used only when your free quota has run out.\n"
    "Your bought time: {balance}.\n\n"
    "Choose a pack:"
)
# TRANSLATORS: a button: "10 min for 50 ⭐".
BUY_BUTTON = N_("{duration} for {stars}")
# TRANSLATORS: Telegram allows 1-32 characters here, with {duration} such as "10 min".
INVOICE_TITLE = N_("{duration} of transcription")
INVOICE_DESCRIPTION = N_(
    "{duration} of audio transcription, used when your free quota has run out. It never expires."
)
INVOICE_LABEL = N_("{duration} of transcription")
PACK_GONE = N_("This pack is no longer on offer. Here are the current ones.")
BUY_FOR_A_PERSON = N_("Only a person can buy time: send /buy from your own account.")
CHECKOUT_REFUSALS: dict[str, str] = {
    "unknown": N_("This invoice is not valid. Please send /buy and choose a pack again."),
    "not_yours": N_("This invoice was made for someone else. Send /buy to get your own."),
    "pack_gone": N_(
        "This pack is no longer on offer at this price. Send /buy to see the current ones."
    ),
    "payments_off": N_("Sorry, time cannot be bought at the moment."),
    "not_allowed": N_("Sorry, you cannot buy time with this bot."),
    "internal": N_("Sorry, something went wrong on my side. You have not been charged."),
}
PAYMENT_RECEIVED = N_(
    "Thank you! {seconds} of transcription time added. Your bought time is now {balance}; "
    "it never expires."
)
PAYMENT_UNMATCHED = N_(
    "Thank you. I could not match this payment to a pack, so it added no time yet. The "
    "operator has been told; /paysupport if you want to reach them."
)
REFUND_RECEIVED = N_(
    "Your payment of {stars} was refunded. {revoked} of unused time was removed from your "
    "bought time, which is now {balance}."
)
PAYSUPPORT = N_(
    "Help with payments\n\n"
    "Bought time is used when your free quota has run out, and it never expires. If a "
    "payment went wrong, or you would like your Stars back for time you have not used, tell "
    "the operator: send /paysupport followed by your message, for example\n"
    "/paysupport I was charged but got no time\n\n"
    "{payments}"
)
PAYSUPPORT_PAYMENTS = N_("Your payments (the id helps the operator find one):\n{lines}")
PAYSUPPORT_NO_PAYMENTS = N_("You have not bought anything yet.")
# TRANSLATORS: one line of a list of payments: "• 2025-06-02 10:00 UTC: 50 ⭐ for 10 min, id …".
PAYMENT_LINE = N_("• {date}: {stars} for {seconds}, id {charge_id}{refund}")
PAYMENT_LINE_REFUNDED = N_(", refunded {date}")
PAYSUPPORT_SENT = N_("Sent to the operator. They will get back to you.")
PAYSUPPORT_UNSENT = N_("Sorry, I could not pass your message on right now. Please try again later.")
# For the operator (see the top of this file): in English.
PAYSUPPORT_REQUEST = (
    "Payment support request from user {user_id} ({name}):\n\n{text}\n\n"
    "Their payments:\n{payments}\n\nRefund one with /refund <id>."
)
USAGE_BALANCE = N_("\n\nBought time: {balance} left. It never expires; /buy adds more.")

# --- the admin commands: for the operator, so in English (see the top of this file) --------

ADMIN_STATS = (
    "Users: {users} ({active} active today)\n"
    "Jobs: {jobs_today} today, {jobs_total} in total\n"
    "Audio: {seconds_today} today, {seconds_total} in total\n"
    "Failures: {failures_today} today, {failures_total} in total\n"
    "Refused (quota or flood): {refused_today} today, {refused_total} in total\n"
    "Answered from the cache: {cached_today} today, {cached_total} in total\n"
    "{spend}\n"
    "By model:\n{models}"
)
ADMIN_STATS_MODEL = "• {model}: {jobs}, {seconds}, {cached} from the cache"
ADMIN_STATS_NO_MODELS = "• none yet"
ADMIN_STATS_SPEND = (
    "Sent to the API: {today} today (daily budget {budget}), {month} this month\n"
    "Cost the API reported: {today_cost} today, {month_cost} this month\n"
)
ADMIN_COST_CREDITS = "{n} credits"
ADMIN_COST_USD = "${usd}"
ADMIN_COST_UNKNOWN = "none reported"
ADMIN_USER = (
    "User {user_id}\n"
    "Name: {name}\n"
    "Username: {username}\n"
    "Language: {language}\n"
    "First seen: {first_seen}\n"
    "Last seen: {last_seen}\n"
    "Status: {status}\n\n"
    "Today: {day_used} of {day_limit}\n"
    "This month: {month_used} of {month_limit}\n"
    "Quota override: daily {daily_override}, monthly {monthly_override}\n\n"
    "Totals: {jobs}, {seconds}, {cached} from the cache\n{models}"
)
ADMIN_STATS_PAYMENTS = (
    "\n\nPayments: {payments}, {stars}, {seconds} bought\n"
    "Refunds: {refunds}, {refunded_stars}, {revoked} taken back unused\n"
    "Bought time: {spent} used, {left} left"
)
ADMIN_USER_PAYMENTS = "\n\nBought time: {balance} left\nPayments:\n{lines}"
ADMIN_PAYMENT_LINE = "• {date}: {stars} for {seconds}, {spent} used, id {charge_id}{refund}"
ADMIN_PAYMENT_REFUND = "; refunded {date} ({by}), {revoked} taken back"
ADMIN_REFUNDED_BY = {"admin": "by an admin", "telegram": "reported by Telegram"}
ADMIN_REFUND_DONE = (
    "Refunded {stars} to user {user_id} (payment {charge_id}): {revoked} of unused time taken "
    "back, {spent} had been used."
)
ADMIN_REFUND_ALREADY = "Payment {charge_id} was already refunded on {date}."
ADMIN_REFUND_UNKNOWN = "I have no payment with the id {charge_id}."
ADMIN_REFUND_FAILED = "Telegram refused to refund payment {charge_id}: {reason}"
ADMIN_USER_UNKNOWN = "I have no record of user {user_id}."
ADMIN_USER_NO_RECORD = "(no record)"
ADMIN_USER_MODEL = "• {model}: {jobs}, {seconds}"
ADMIN_NONE = "—"


def english_plural(singular: str, plural: str) -> Plural:
    """A count in an admin's text: not extracted, so never translated (see the top)."""
    return Plural(singular, plural)


ADMIN_JOBS = english_plural("{n} job", "{n} jobs")
ADMIN_PAYMENTS = english_plural("{n} payment", "{n} payments")
ADMIN_REFUNDS = english_plural("{n} refund", "{n} refunds")

ADMIN_DEFAULT = "default"
ADMIN_STATUS_ADMIN = "admin"
ADMIN_STATUS_BANNED = "banned"
ADMIN_STATUS_ALLOWED = "allowed"
ADMIN_STATUS_DENIED = "denied"
ADMIN_STATUS_NORMAL = "normal"
ADMIN_QUOTA_SET = "Quota for {subject_id}: daily {daily}, monthly {monthly}."
ADMIN_BANNED = "Banned {subject_id}: I ignore them from now on."
ADMIN_BAN_REFUSED = "{subject_id} is an admin (ADMIN_USER_IDS); admins cannot be banned."
ADMIN_UNBANNED = "Unbanned {subject_id}."
ADMIN_ALLOWED = "Allowed {subject_id}."
ADMIN_DENIED = "Denied {subject_id}."
ADMIN_OPEN_MODE_NOTE = (
    "\nNote: ACCESS_MODE is open, so this matters only in allowlist mode. /ban blocks someone now."
)
ADMIN_USAGE: dict[str, str] = {
    "user": "Usage: /user <id>",
    "quota": (
        "Usage: /quota <id> <daily> [monthly]\nSeconds of audio; 0 means unlimited, 'default' "
        "goes back to the operator's default."
    ),
    "ban": "Usage: /ban <id>",
    "unban": "Usage: /unban <id>",
    "allow": "Usage: /allow <id>",
    "deny": "Usage: /deny <id>",
    "refund": (
        "Usage: /refund <payment id>\nThe id is listed by /user <user id> and in the "
        "user's /paysupport."
    ),
}

# --- groups --------------------------------------------------------------------------------

GROUP_MODES_HELP = N_(
    "In this group I transcribe: {mode}.\n\n"
    "/groupmode auto – every voice note, audio and video note posted here\n"
    "/groupmode mention – only those someone replies to with /transcribe or a mention of me\n"
    "/groupmode off – nothing\n\n"
    "Only the group's administrators can change this."
)
GROUP_MODE_NAMES = {
    "auto": N_("every recording (auto)"),
    "mention": N_("recordings I am asked for (mention)"),
    "off": N_("nothing (off)"),
}
GROUP_MODE_SET = N_("Done. In this group I now transcribe: {mode}.")
GROUP_MODE_NOT_ADMIN = N_("Only the group's administrators can change this.")
GROUP_MODE_PRIVATE = N_("/groupmode works in groups. Here I transcribe everything you send me.")
GROUP_MODE_BLIND = N_(
    "\n\nWarning: I cannot see ordinary messages in this group yet, so I will not notice "
    "voice notes. Either make me an administrator, or turn my privacy mode off (BotFather: "
    "/setprivacy, Disable) and add me to the group again. Until then, reply to a voice note "
    "with /transcribe."
)
GROUP_OFF = N_(
    "Transcription is turned off in this group. An administrator can change that with /groupmode."
)
TRANSCRIBE_HINT = N_("Reply to a voice note, audio file or video note with /transcribe.")

GROUP_LANGUAGE_MENU = N_(
    "Which language should I speak in this group? Now: {current}.\n\n"
    "This is the language of my messages here, not of the recordings. Only the group's "
    "administrators can change it."
)
# TRANSLATORS: the group setting that lets each member get the bot's messages in their own language.
GROUP_LANGUAGE_MEMBERS = N_("each member's own language")
GROUP_LANGUAGE_MEMBERS_BUTTON = N_("👥 Each member's own")
GROUP_LANGUAGE_SET = N_("Done. In this group I now speak: {language}.")
GROUP_LANGUAGE_PRIVATE = N_(
    "/grouplanguage works in groups. Here, choose the language I speak to you in /settings."
)

# --- /model, /language, /settings and "Try another model" ---------------------------------

CURRENT_MARK = "✓ "
VENDOR_HEADER = "— {vendor} —"
MODEL_MENU = N_("Choose the speech-to-text model. Now: {current}.\n\n{families}")
MODEL_LABEL = "{name} ({model_id})"  # how a model is named wherever one is shown
# The /model menu's line per family (the English of bot/stt/catalogue.py's FAMILY_BLURBS, which
# a test keeps equal to these).
FAMILY_BLURBS: dict[str, str] = {
    "deepgram": N_("Deepgram: fast, word timings and speaker labels; Nova-2 or hosted Whisper."),
    "assemblyai": N_("AssemblyAI: accurate, punctuated text with speaker labels."),
    "openai": N_("OpenAI GPT-4o: strong on hard audio; plain text without timings."),
    "local": N_("Local Whisper: runs on this machine, nothing leaves it."),
    "oai": N_("OpenAI-compatible server: Whisper with timings; GPT-4o as plain text."),
}
MODEL_SET = N_("Model set to {model}.")
MODEL_UNKNOWN = N_(
    "I don't know the model “{model_id}”. These are the ones you can choose:\n{ids}\n\n"
    "Send /model without anything after it to pick from a keyboard."
)
MODEL_GONE = N_("That model is not available any more. Send /model to see the current list.")
LANGUAGE_WARNING = N_(
    "Note: {model} cannot transcribe {language}, so it will use {fallback} instead. "
    "Change it with /language or /model."
)
FALLBACK_ENGLISH = N_("English")
FALLBACK_DETECTION = N_("automatic language detection")

LANGUAGE_AUTO = N_("automatic detection")
LANGUAGE_AUTO_BUTTON = N_("🌐 Automatic")
LANGUAGE_MENU = N_(
    "Which language is your audio in? Now: {current}.\n\n"
    "Choose below, or type a code, for example /language de or /language pt-BR."
)
LANGUAGE_SET = N_("Language set to {language}.")
LANGUAGE_INVALID = N_(
    "“{raw}” is not a language code I know. Use a two-letter ISO 639-1 code, optionally with "
    "a region, for example:\n/language de\n/language pt-BR\n/language auto"
)
# Names in the language itself, so a speaker recognises theirs on the keyboard.
LANGUAGE_NAMES: dict[str, str] = {
    "ar": "العربية",
    "de": "Deutsch",
    "en": "English",
    "es": "Español",
    "fr": "Français",
    "hi": "हिन्दी",
    "it": "Italiano",
    "ja": "日本語",
    "nl": "Nederlands",
    "pl": "Polski",
    "pt": "Português",
    "ru": "Русский",
    "tr": "Türkçe",
    "uk": "Українська",
    "zh": "中文",
}
# The interface's languages (bot/policy/interface_language.py), also each in itself.
INTERFACE_LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "es": "Español",
    "pt_BR": "Português (Brasil)",
    "de": "Deutsch",
    "fr": "Français",
    "it": "Italiano",
    "ru": "Русский",
    "uk": "Українська",
    "tr": "Türkçe",
    "id": "Bahasa Indonesia",
    "fa": "فارسی",
    "ar": "العربية",
}

SETTINGS = N_(
    "Your settings\nModel: {model}\nLanguage: {language}\n\n"
    "Tap an option to switch it. A file is sent alongside the text."
)
SETTINGS_LIMITS = N_("Not every model can do everything:")
SETTINGS_LIMIT_LINE = "• {family}: {missing}."
SETTINGS_SAVED = N_("Saved.")
MISSING_TIMINGS = N_("no timestamps and no .srt file (it returns no word timings)")
MISSING_SPEAKERS = N_("no speaker labels")
MISSING_LANGUAGE = N_("no detected language")
FAMILY_NAMES: dict[str, str] = {
    "deepgram": "Deepgram (Nova-2, Whisper)",
    "assemblyai": "AssemblyAI",
    "openai": "OpenAI GPT-4o",
    "local": N_("Local Whisper"),
    "oai": N_("OpenAI-compatible server"),
}
TOGGLE_LABELS: dict[str, str] = {
    "timestamps": N_("Timestamps"),
    "speakers": N_("Speaker labels"),
    "show_language": N_("Show the language"),
}
TOGGLE_ON = "✅ {label}"
TOGGLE_OFF = "▫️ {label}"
ATTACH_LABELS: dict[str, str] = {
    "none": N_("No file"),
    "srt": N_(".srt file"),
    "txt": N_(".txt file"),
}
# TRANSLATORS: a button under /settings; {language} is the name of a language in itself.
INTERFACE_BUTTON = N_("🌐 Bot language: {language}")
INTERFACE_MENU = N_(
    "Which language should I speak to you? Now: {current}.\n\n"
    "This is the language of my messages and buttons. The language of your recordings is "
    "another setting: /language."
)
# TRANSLATORS: the choice that follows the language of the user's Telegram app.
INTERFACE_AUTO = N_("the language of your Telegram app")
INTERFACE_AUTO_BUTTON = N_("📱 As in my Telegram app")
INTERFACE_SET = N_("Done. I now speak: {language}.")
BACK_BUTTON = N_("« Back")

SRT_CAPTION = N_("Subtitles (.srt)")
TXT_CAPTION = N_("Transcript (.txt)")
REDO_BUTTON = N_("🔁 Try another model")
REDO_MENU = N_("Transcribe this again with which model? It was done with {model}.")
REDO_STARTED = N_("Transcribing again with {model}…")
REDO_DUPLICATE = N_("This was already transcribed again with {model}.")
REDO_REFUSALS: dict[str, str] = {
    "gone": N_("I no longer have this recording. Please send it again."),
    "not_yours": N_("Only the person who sent this recording can have it transcribed again."),
}

# --- Summaries and translations by a language model ---------------------------------------

SUMMARY_BUTTON = N_("📝 Summary")
TRANSLATE_BUTTON = N_("🌐 Translate")
# TRANSLATORS: the heading of a summary a language model wrote; {text} is the summary itself.
SUMMARY_ANSWER = N_("📝 Summary\n\n{text}")
# TRANSLATORS: the heading of a transcript's translation; {text} is the translation itself.
TRANSLATION_ANSWER = N_("🌐 Translation\n\n{text}")
TRANSLATION_FILE_CAPTION = N_("Translation")
# TRANSLATORS: this and the next four answer a tap on Summary or Translate, in a small pop-up:
# at most 200 characters.
SUMMARY_WORKING = N_("On it: the answer comes as a reply to the transcript.")
SUMMARY_UNDER_WAY = N_("Already on it: the answer comes as a reply to the transcript.")
SUMMARY_ALREADY_SENT = N_("Already answered: see the replies to the transcript.")
SUMMARY_GONE = N_(
    "I no longer keep this transcript, so I cannot do that. Send the recording again."
)
SUMMARY_OFF = N_("Summaries and translations are not available on this bot now.")
SUMMARY_FAILED: dict[str, str] = {
    "summary": N_("Sorry, I could not summarise this transcript. Please try again later."),
    "translation": N_("Sorry, I could not translate this transcript. Please try again later."),
}
# TRANSLATORS: a pop-up of at most 200 characters; {resets} is a moment such as
# "2 June 2025, 00:00 UTC (in 3 h 12 min)".
SUMMARIES_USED_UP = Plural(
    "You have had your {n} summary or translation for today. More from {resets}.",
    "You have had your {n} summaries and translations for today. More from {resets}.",
)

GROUP_SUMMARY_HELP = N_(
    "Summaries of long voice notes in this group: {state}.\n\n"
    "/groupsummary <seconds> – a summary under every voice note longer than that\n"
    "/groupsummary on – the same, for notes longer than {default}\n"
    "/groupsummary off – no summaries unless someone taps Summary\n\n"
    "Only the group's administrators can change this. A language model writes the summaries: "
    "the transcript is sent to its provider."
)
# TRANSLATORS: completes "Summaries of long voice notes here: …"; {duration} such as "2 min".
GROUP_SUMMARY_ON = N_("under every voice note longer than {duration}")
# TRANSLATORS: completes "Summaries of long voice notes here: …".
GROUP_SUMMARY_OFF = N_("off")
GROUP_SUMMARY_SET = N_("Done. Summaries of long voice notes here: {state}.")
# TRANSLATORS: "on" and "off" are typed as they are, after /groupsummary.
GROUP_SUMMARY_INVALID = N_("Please give a number of seconds from {low} to {high}, or on, or off.")
GROUP_SUMMARY_PRIVATE = N_("/groupsummary works in groups. Here, tap Summary under a transcript.")
GROUP_SUMMARY_UNAVAILABLE = N_("This bot has no language model, so it cannot write summaries.")
