from bot.pipeline.delivery import MAX_TEXT_MESSAGES, EditStatus, SendFile, SendText, plan_delivery
from bot.policy.preferences import OutputOptions
from bot.presentation import texts
from bot.presentation.i18n import ENGLISH
from bot.stt.types import Transcript

BUTTONS = [[("Try another model", "redo:1")]]


def test_short_transcript_is_one_edit_with_buttons() -> None:
    steps = plan_delivery(ENGLISH, Transcript(text="hello"), OutputOptions(), buttons=BUTTONS)
    assert steps == [EditStatus("hello", BUTTONS)]


def test_empty_transcript_says_no_speech() -> None:
    steps = plan_delivery(ENGLISH, Transcript(text="  "), OutputOptions(), buttons=None)
    assert steps == [EditStatus(texts.NO_SPEECH)]


def test_long_transcript_is_split_across_messages() -> None:
    text = " ".join(["word"] * 1200)  # about 6 000 characters: two messages
    steps = plan_delivery(ENGLISH, Transcript(text=text), OutputOptions(), buttons=BUTTONS)
    assert isinstance(steps[0], EditStatus)
    assert all(isinstance(step, SendText) for step in steps[1:])
    assert len(steps) == 2
    assert steps[-1].buttons == BUTTONS and steps[0].buttons is None


def test_three_messages_worth_become_one_file() -> None:
    # At most one send that cannot be repeated safely: a third part would be a second one.
    text = " ".join(["word"] * 2000)  # about 10 000 characters
    steps = plan_delivery(ENGLISH, Transcript(text=text), OutputOptions(), buttons=None)
    assert [type(step) for step in steps] == [EditStatus, SendFile]


def test_very_long_transcript_becomes_a_document() -> None:
    text = " ".join(["word"] * (1000 * (MAX_TEXT_MESSAGES + 1)))
    steps = plan_delivery(ENGLISH, Transcript(text=text), OutputOptions(), buttons=None)
    assert steps[0] == EditStatus(texts.SENT_AS_FILE)
    document = steps[1]
    assert isinstance(document, SendFile)
    assert document.filename == "transcript.txt"
    assert document.data.decode() == text


def test_plan_is_deterministic() -> None:
    transcript = Transcript(text=" ".join(["abc"] * 3000))
    first = plan_delivery(ENGLISH, transcript, OutputOptions(), buttons=BUTTONS)
    again = plan_delivery(ENGLISH,
        Transcript.from_json(transcript.to_json()), OutputOptions(), buttons=BUTTONS
    )
    assert first == again
