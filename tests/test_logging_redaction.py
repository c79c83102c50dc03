import logging

from bot.observability.logging import REDACTED, RedactingFilter


def test_filter_redacts_secrets_in_messages_args_and_tracebacks() -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
    key = "sk-aiml-0123456789abcdef"
    redactor = RedactingFilter([token, key])
    try:
        raise RuntimeError(f"GET https://api.telegram.org/file/bot{token}/voice/1.oga failed")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "key=%s", (key,), sys.exc_info()
        )
    assert redactor.filter(record)
    assert record.getMessage() == f"key={REDACTED}"
    assert record.exc_text is not None and token not in record.exc_text
    assert REDACTED in record.exc_text


def test_any_token_shaped_string_is_redacted() -> None:
    redactor = RedactingFilter([])
    text = redactor.redact("url bot987654321:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789/getMe")
    assert "ABCdefGHI" not in text


def test_a_short_secret_never_garbles_ordinary_words() -> None:
    redact = RedactingFilter(["k", "pass1"]).redact
    assert redact("known words stay known") == "known words stay known"
    assert redact("key=k, password pass1.") == f"key={REDACTED}, password {REDACTED}."
    assert redact("pass12 and kk are other words") == "pass12 and kk are other words"


def test_a_long_secret_is_redacted_even_inside_a_url() -> None:
    key = "aiml-test-key-5f1e0c9a7b3d4e2f8a6c"
    redact = RedactingFilter([key]).redact
    assert redact(f"GET https://x/v1?key{key}&a=1") == f"GET https://x/v1?key{REDACTED}&a=1"
