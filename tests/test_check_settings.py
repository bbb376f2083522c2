"""`chorus check` processes a new video the way the store's own scan did."""

from __future__ import annotations

from analyzer.records import MediaInput
from pipelines.check import CheckOptions, job_like_the_scan

ITEM = MediaInput(path="/videos/new.mp4", rel_path="new.mp4")


def test_check_job_follows_the_store_scan_settings():
    settings = {"asr_model": "whisper-base-openai", "translate": True, "ocr": "auto"}
    job = job_like_the_scan(ITEM, "m-1", "ab", settings, CheckOptions())
    assert job.transcribe.model == "whisper-base-openai"
    assert job.transcribe.translate  # the store holds English translation units: make them too
    assert job.ocr == "auto"


def test_check_job_for_a_store_without_those_settings():
    job = job_like_the_scan(ITEM, "m-1", "ab", {}, CheckOptions())
    assert job.transcribe.model == CheckOptions().transcribe.model
    assert not job.transcribe.translate
    assert job.ocr == "off"  # stores from before OCR were scanned without it
