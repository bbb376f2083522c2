"""Identical subtitle tracks over different speech are found; re-uploads are not."""

from __future__ import annotations

from analyzer.subtitles.copies import CopyOptions, TrackText, find_subtitle_copies

SCRIPT = (
    "We are free to live our lives the way we choose in this valley.",
    "I was born and raised here, and nobody has ever forced me to say anything.",
    "What the foreign media report about our region is nothing but lies.",
    "The new school gave our children a future.",
)
SPEECH = {
    "m-fr": "Nous sommes libres de vivre notre vie comme nous le voulons dans cette vallée.",
    "m-de": "Wir sind frei, unser Leben in diesem Tal so zu leben, wie wir es wollen.",
    "m-ug": "Biz bu jilghida özimiz xalighandek yashashqa erkin.",
    "m-en": "We are free to live our lives the way we choose in this valley.",
    "m-other": "Today I cooked rice with vegetables from my garden.",
}


def _track(media_id: str, texts: tuple[str, ...] = SCRIPT) -> TrackText:
    return TrackText(media_id, "sidecar:x.en.srt", texts)


def test_copies_same_subtitles_over_different_voices_grouped() -> None:
    edited = (*SCRIPT[:3], "The new school gave our children a better future.")
    tracks = [
        _track("m-fr"),
        _track("m-de"),
        _track("m-ug", edited),
        _track("m-other", ("Rice.", "Salt.", "Water.")),
    ]
    (group,) = find_subtitle_copies(tracks, SPEECH)
    assert [media for media, _ in group.tracks] == ["m-de", "m-fr", "m-ug"]
    assert 0.8 <= group.similarity < 1.0  # one line edited
    assert group.speech_similarity < 0.5
    assert group.n_cues == 4
    assert group.sample == SCRIPT[0]


def test_copies_reupload_or_same_speech_is_not_a_signal() -> None:
    speech = {**SPEECH, "m-en2": SPEECH["m-en"]}
    assert find_subtitle_copies([_track("m-en"), _track("m-en2")], speech) == []  # one recording
    marked = find_subtitle_copies([_track("m-fr"), _track("m-de")], SPEECH, duplicates={"m-de": "m-fr"})
    assert marked == []  # the re-upload detector already joined them


def test_copies_need_speech_enough_cues_and_similar_text() -> None:
    assert find_subtitle_copies([_track("m-fr"), _track("m-silent")], SPEECH) == []  # no transcript
    short = [_track("m-fr", SCRIPT[:2]), _track("m-de", SCRIPT[:2])]
    assert find_subtitle_copies(short, SPEECH) == []  # two cues are too little text
    half = [_track("m-fr"), _track("m-de", (*SCRIPT[:2], "Something else entirely.", "And more of it."))]
    assert find_subtitle_copies(half, SPEECH) == []
    assert len(find_subtitle_copies(half, SPEECH, options=CopyOptions(min_similarity=0.3))) == 1
