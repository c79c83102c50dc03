"""Every text the bot shows to users, in one place so it can be translated later.

A text with a count comes in a singular and a plural form, through `ngettext`, so "1 job" and
"2 jobs" both read right. It has gettext's signature, with the literal forms at the call, so
moving to gettext catalogues is a matter of swapping in a translation's `ngettext`.
"""

from __future__ import annotations

from gettext import NullTranslations

from bot.failures import FailureReason

# English source texts: the singular form for 1, the plural for any other count.
_SOURCE = NullTranslations()


def ngettext(singular: str, plural: str, n: int) -> str:
    return _SOURCE.ngettext(singular, plural, n)


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
    "/transcribe – reply with it to a voice note to transcribe that note\n"
    "/help – this message\n\n"
    "In groups, administrators choose with /groupmode whether I transcribe every voice note, "
    "only those I am asked for with /transcribe, or none."
)

COMMAND_DESCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("start", "What this bot does"),
    ("help", "What I transcribe and my commands"),
    ("model", "Choose the speech-to-text model"),
    ("language", "Set the audio language or automatic detection"),
    ("settings", "Timestamps, speakers, files"),
    ("usage", "Your quota and usage"),
    ("forget", "Delete your data"),
    ("transcribe", "Reply to a voice note with this to transcribe it"),
)
# Listed (and in /help) only while STARS_PACKS is set.
PAYMENT_COMMAND_DESCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("buy", "Buy more transcription time"),
    ("paysupport", "Help with a payment or a refund"),
)
HELP_PAYMENTS = (
    "\n\nMore time: /buy adds transcription time, paid with Telegram Stars; it never expires. "
    "/paysupport helps with a payment or a refund."
)

TRANSCRIBING = "Transcribing…"
# The status message of a long recording, edited as the job goes (bot/pipeline/progress.py):
# the share done where the engine says it (the local one), else the time it has taken so far.
PROGRESS = "Transcribing… {percent} % · {done} of {total}"
ELAPSED = "Transcribing {total} of audio… {elapsed} so far"
ELAPSED_UNKNOWN_LENGTH = "Transcribing… {elapsed} so far"
NO_SPEECH = "No speech recognised."
SENT_AS_FILE = "The transcript is long, so here it is as a file."
TRANSCRIPT_FILE_CAPTION = "Transcript"

RECORDING_TOO_LONG = (
    "This recording is {length} long. I transcribe recordings of up to {limit}, so please "
    "send a shorter one."
)
FILE_TOO_BIG = (
    "This file is {size_mb:.1f} MB. Telegram lets bots download files of up to {limit_mb:.0f} MB, "
    "so I cannot transcribe it. Please send a shorter recording."
)

# One text per failure reason (bot/failures.py); a test checks none is missing.
FAILURES: dict[FailureReason, str] = {
    FailureReason.API_ERROR: (
        "Sorry, the speech-to-text service failed on this one. Please try again later."
    ),
    FailureReason.OUT_OF_CREDITS: (
        "Sorry, the speech-to-text service is out of credits right now. The operator has to top "
        "it up; please try again later."
    ),
    FailureReason.AUTH: (
        "Sorry, the bot's speech-to-text service is not configured correctly. The operator has "
        "been told in the logs."
    ),
    FailureReason.TIMEOUT: "Sorry, transcription took too long and I gave up. Please try again.",
    FailureReason.CORRUPT: (
        "Sorry, I could not read this audio. The file may be damaged or in a format I "
        "do not support."
    ),
    FailureReason.TOO_BIG: (
        "Sorry, this file is too big for me to download from Telegram (the limit is 20 MB)."
    ),
    FailureReason.DOWNLOAD_FAILED: (
        "Sorry, I could not download this file from Telegram. Please send it again."
    ),
    FailureReason.RATE_LIMITED: (
        "Sorry, the speech-to-text service is busy. Please try again in a minute."
    ),
    FailureReason.UNSUPPORTED_MODEL: (
        "Sorry, the chosen model is not available. Pick another one with /model."
    ),
    FailureReason.INTERNAL: "Sorry, something went wrong on my side. Please try again.",
    FailureReason.QUOTA: (
        "Sorry, this recording does not fit in your quota. /usage shows what is left and when "
        "it resets."
    ),
    FailureReason.TOO_LONG: "Sorry, this recording is longer than I can transcribe.",
    # Nobody reads this one (the chat is gone); it keeps every reason worded.
    FailureReason.CHAT_GONE: "Sorry, I could not reach this chat.",
}


def failure(reason: str) -> str:
    return FAILURES[FailureReason.parse(reason)]


UNSUPPORTED_FILE = (
    "I can only transcribe audio and video. This file does not look like either; if it is, "
    "send it as an audio file or a voice message."
)
TEXT_HINT = "Send me a voice message, an audio file or a video, and I will transcribe it."

# --- quotas, access, admins, /forget, groups (presentation/replies.py fills these in) ------

UNIT_DAYS = "{n} d"
UNIT_HOURS = "{n} h"
UNIT_MINUTES = "{n} min"
UNIT_SECONDS = "{n} s"
MOMENT = "{day} {month} {year}, {time} UTC (in {until})"
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
UNLIMITED = "unlimited"

ACCESS_REFUSED_PRIVATE = (
    "Sorry, this bot is private: it works only for people its operator has allowed.\n\n"
    "If you know the operator, send them your user id: {user_id}"
)
ACCESS_REFUSED_GROUP = (
    "Sorry, this bot is private, and it is not open to this group.\n\n"
    "If you know its operator, ask them to allow this group (chat id {chat_id}){user_part}."
)
ACCESS_REFUSED_GROUP_USER = " or you (user id {user_id})"

QUOTA_PERIODS = {"day": "daily", "month": "monthly"}
QUOTA_EXCEEDED = (
    "Sorry, this recording does not fit in your {period} quota, so I have not transcribed it.\n\n"
    "It is {needed} long. You have used {used} of {limit}, leaving {left}.\n"
    "The {period} quota resets on {resets}."
)
# The bot-wide ceiling (BUDGET_DAILY_SECONDS): nobody's own quota, so no numbers of theirs.
BUDGET_REACHED = (
    "Sorry, the bot has used up today's transcription budget, so I have not transcribed this "
    "recording. Please send it again after {resets}."
)
ADMIN_BUDGET_REACHED = (
    "The bot has reached its daily budget (BUDGET_DAILY_SECONDS: {limit} of audio a day) and "
    "is refusing new recordings until {resets}. I tell you this once a day."
)


def flood_in_flight(limit: int) -> str:
    return ngettext(
        "You already have {limit} recording being transcribed. Please send this one again when "
        "it is done.",
        "You already have {limit} recordings being transcribed. Please send this one again when "
        "one of them is done.",
        limit,
    ).format(limit=limit)


def flood_per_minute(limit: int, wait: str) -> str:
    return ngettext(
        "That is more than {limit} recording in a minute. Please wait {wait} and send this one "
        "again.",
        "That is more than {limit} recordings in a minute. Please wait {wait} and send this one "
        "again.",
        limit,
    ).format(limit=limit, wait=wait)


USAGE = (
    "Your usage\n\n"
    "Today: {day_used} used of {day_limit}, {day_left} left.\n"
    "Resets on {day_resets}.\n\n"
    "This month: {month_used} used of {month_limit}, {month_left} left.\n"
    "Resets on {month_resets}.\n\n"
    "Model: {model}"
)
USAGE_ADMIN = "You are an admin: quotas do not limit you."

# Shown when a refusal's numbers include bought time.
QUOTA_BALANCE = "\nYour bought time ({balance}) does not cover the rest either."

FORGET_CONFIRM = (
    "Delete everything I store about you: your profile, settings, history and totals?\n\n"
    "This cannot be undone. What you used today and this month stays counted, anonymously, "
    "until the month ends, so this does not reset your quota."
)
FORGET_YES = "Yes, delete it"
FORGET_NO = "Cancel"
FORGET_DONE = "Done: I deleted your profile, settings, history and totals."
FORGET_CANCELLED = "Nothing was deleted."
FORGET_NOT_YOURS = "This button is for the person who asked."
# Added to the question and to the confirmation while payments are shown to the user.
FORGET_KEEPS_PAYMENTS = (
    "\n\nRecords of your payments are kept, as the law requires: the amount, the date and "
    "what was bought."
)

# --- buying time with Telegram Stars (presentation/replies.py fills these in) --------------

STARS = "{n} ⭐"
BUY_MENU = (
    "Buy transcription time with Telegram Stars.\n\n"
    "Bought time never expires: it is used only when your free quota has run out.\n"
    "Your bought time: {balance}.\n\n"
    "Choose a pack:"
)
BUY_BUTTON = "{duration} for {stars}"
INVOICE_TITLE = "{duration} of transcription"  # Telegram allows 1-32 characters
INVOICE_DESCRIPTION = (
    "{duration} of audio transcription, used when your free quota has run out. It never expires."
)
INVOICE_LABEL = "{duration} of transcription"
PACK_GONE = "This pack is no longer on offer. Here are the current ones."
BUY_FOR_A_PERSON = "Only a person can buy time: send /buy from your own account."
CHECKOUT_REFUSALS: dict[str, str] = {
    "unknown": "This invoice is not valid. Please send /buy and choose a pack again.",
    "not_yours": "This invoice was made for someone else. Send /buy to get your own.",
    "pack_gone": (
        "This pack is no longer on offer at this price. Send /buy to see the current ones."
    ),
    "payments_off": "Sorry, time cannot be bought at the moment.",
    "not_allowed": "Sorry, you cannot buy time with this bot.",
    "internal": "Sorry, something went wrong on my side. You have not been charged.",
}
PAYMENT_RECEIVED = (
    "Thank you! {seconds} of transcription time added. Your bought time is now {balance}; "
    "it never expires."
)
PAYMENT_UNMATCHED = (
    "Thank you. I could not match this payment to a pack, so it added no time yet. The "
    "operator has been told; /paysupport if you want to reach them."
)
REFUND_RECEIVED = (
    "Your payment of {stars} was refunded. {revoked} of unused time was removed from your "
    "bought time, which is now {balance}."
)
PAYSUPPORT = (
    "Help with payments\n\n"
    "Bought time is used when your free quota has run out, and it never expires. If a "
    "payment went wrong, or you would like your Stars back for time you have not used, tell "
    "the operator: send /paysupport followed by your message, for example\n"
    "/paysupport I was charged but got no time\n\n"
    "{payments}"
)
PAYSUPPORT_PAYMENTS = "Your payments (the id helps the operator find one):\n{lines}"
PAYSUPPORT_NO_PAYMENTS = "You have not bought anything yet."
PAYMENT_LINE = "• {date}: {stars} for {seconds}, id {charge_id}{refund}"
PAYMENT_LINE_REFUNDED = ", refunded {date}"
PAYSUPPORT_SENT = "Sent to the operator. They will get back to you."
PAYSUPPORT_UNSENT = "Sorry, I could not pass your message on right now. Please try again later."
PAYSUPPORT_REQUEST = (
    "Payment support request from user {user_id} ({name}):\n\n{text}\n\n"
    "Their payments:\n{payments}\n\nRefund one with /refund <id>."
)
USAGE_BALANCE = "\n\nBought time: {balance} left. It never expires; /buy adds more."

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


def job_count(n: int) -> str:
    return ngettext("{n} job", "{n} jobs", n).format(n=n)


def payment_count(n: int) -> str:
    return ngettext("{n} payment", "{n} payments", n).format(n=n)


def refund_count(n: int) -> str:
    return ngettext("{n} refund", "{n} refunds", n).format(n=n)


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

GROUP_MODES_HELP = (
    "In this group I transcribe: {mode}.\n\n"
    "/groupmode auto – every voice note, audio and video note posted here\n"
    "/groupmode mention – only those someone replies to with /transcribe or a mention of me\n"
    "/groupmode off – nothing\n\n"
    "Only the group's administrators can change this."
)
GROUP_MODE_NAMES = {
    "auto": "every recording (auto)",
    "mention": "recordings I am asked for (mention)",
    "off": "nothing (off)",
}
GROUP_MODE_SET = "Done. In this group I now transcribe: {mode}."
GROUP_MODE_NOT_ADMIN = "Only the group's administrators can change this."
GROUP_MODE_PRIVATE = "/groupmode works in groups. Here I transcribe everything you send me."
GROUP_MODE_BLIND = (
    "\n\nWarning: I cannot see ordinary messages in this group yet, so I will not notice "
    "voice notes. Either make me an administrator, or turn my privacy mode off (BotFather: "
    "/setprivacy, Disable) and add me to the group again. Until then, reply to a voice note "
    "with /transcribe."
)
GROUP_OFF = (
    "Transcription is turned off in this group. An administrator can change that with /groupmode."
)
TRANSCRIBE_HINT = "Reply to a voice note, audio file or video note with /transcribe."

# --- /model, /language, /settings and "Try another model" ---------------------------------

CURRENT_MARK = "✓ "
VENDOR_HEADER = "— {vendor} —"
MODEL_MENU = "Choose the speech-to-text model. Now: {current}.\n\n{families}"
MODEL_LABEL = "{name} ({model_id})"  # how a model is named wherever one is shown
MODEL_SET = "Model set to {model}."
MODEL_UNKNOWN = (
    "I don't know the model “{model_id}”. These are the ones you can choose:\n{ids}\n\n"
    "Send /model without anything after it to pick from a keyboard."
)
MODEL_GONE = "That model is not available any more. Send /model to see the current list."
LANGUAGE_WARNING = (
    "Note: {model} cannot transcribe {language}, so it will use {fallback} instead. "
    "Change it with /language or /model."
)
FALLBACK_ENGLISH = "English"
FALLBACK_DETECTION = "automatic language detection"

LANGUAGE_AUTO = "automatic detection"
LANGUAGE_AUTO_BUTTON = "🌐 Automatic"
LANGUAGE_MENU = (
    "Which language is your audio in? Now: {current}.\n\n"
    "Choose below, or type a code, for example /language de or /language pt-BR."
)
LANGUAGE_SET = "Language set to {language}."
LANGUAGE_INVALID = (
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

SETTINGS = (
    "Your settings\nModel: {model}\nLanguage: {language}\n\n"
    "Tap an option to switch it. A file is sent alongside the text."
)
SETTINGS_LIMITS = "Not every model can do everything:"
SETTINGS_LIMIT_LINE = "• {family}: {missing}."
SETTINGS_SAVED = "Saved."
MISSING_TIMINGS = "no timestamps and no .srt file (it returns no word timings)"
MISSING_SPEAKERS = "no speaker labels"
MISSING_LANGUAGE = "no detected language"
FAMILY_NAMES: dict[str, str] = {
    "deepgram": "Deepgram (Nova-2, Whisper)",
    "assemblyai": "AssemblyAI",
    "openai": "OpenAI GPT-4o",
    "local": "Local Whisper",
    "oai": "OpenAI-compatible server",
}
TOGGLE_LABELS: dict[str, str] = {
    "timestamps": "Timestamps",
    "speakers": "Speaker labels",
    "show_language": "Show the language",
}
TOGGLE_ON = "✅ {label}"
TOGGLE_OFF = "▫️ {label}"
ATTACH_LABELS: dict[str, str] = {"none": "No file", "srt": ".srt file", "txt": ".txt file"}

SRT_CAPTION = "Subtitles (.srt)"
TXT_CAPTION = "Transcript (.txt)"
REDO_BUTTON = "🔁 Try another model"
REDO_MENU = "Transcribe this again with which model? It was done with {model}."
REDO_STARTED = "Transcribing again with {model}…"
REDO_DUPLICATE = "This was already transcribed again with {model}."
REDO_REFUSALS: dict[str, str] = {
    "gone": "I no longer have this recording. Please send it again.",
    "not_yours": "Only the person who sent this recording can have it transcribed again.",
}

# --- Summaries and translations by a language model ---------------------------------------

SUMMARY_BUTTON = "📝 Summary"
TRANSLATE_BUTTON = "🌐 Translate"
SUMMARY_ANSWER = "📝 Summary\n\n{text}"
TRANSLATION_ANSWER = "🌐 Translation\n\n{text}"
TRANSLATION_FILE_CAPTION = "Translation"
# Answers to a tap (at most 200 characters: Telegram's limit for a callback answer).
SUMMARY_WORKING = "On it: the answer comes as a reply to the transcript."
SUMMARY_UNDER_WAY = "Already on it: the answer comes as a reply to the transcript."
SUMMARY_ALREADY_SENT = "Already answered: see the replies to the transcript."
SUMMARY_GONE = "I no longer keep this transcript, so I cannot do that. Send the recording again."
SUMMARY_OFF = "Summaries and translations are not available on this bot now."
SUMMARY_FAILED: dict[str, str] = {
    "summary": "Sorry, I could not summarise this transcript. Please try again later.",
    "translation": "Sorry, I could not translate this transcript. Please try again later.",
}


def summaries_used_up(limit: int, resets: str) -> str:
    return ngettext(
        "You have had your {limit} summary or translation for today. More from {resets}.",
        "You have had your {limit} summaries and translations for today. More from {resets}.",
        limit,
    ).format(limit=limit, resets=resets)


GROUP_SUMMARY_HELP = (
    "Summaries of long voice notes in this group: {state}.\n\n"
    "/groupsummary <seconds> – a summary under every voice note longer than that\n"
    "/groupsummary on – the same, for notes longer than {default}\n"
    "/groupsummary off – no summaries unless someone taps Summary\n\n"
    "Only the group's administrators can change this. A language model writes the summaries: "
    "the transcript is sent to its provider."
)
GROUP_SUMMARY_ON = "under every voice note longer than {duration}"
GROUP_SUMMARY_OFF = "off"
GROUP_SUMMARY_SET = "Done. Summaries of long voice notes here: {state}."
GROUP_SUMMARY_INVALID = "Please give a number of seconds from {low} to {high}, or on, or off."
GROUP_SUMMARY_PRIVATE = "/groupsummary works in groups. Here, tap Summary under a transcript."
GROUP_SUMMARY_UNAVAILABLE = "This bot has no language model, so it cannot write summaries."
