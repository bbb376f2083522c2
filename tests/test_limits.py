"""Limits: readable sizes and durations in, readable errors that name the flag out."""

from __future__ import annotations

import pickle

import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.errors import ChorusError, MediaError
from analyzer.limits import LimitExceeded, format_bytes, format_duration, parse_duration, parse_size
from analyzer.media import check_media_file
from tests.conftest import SAMPLES


@pytest.mark.parametrize(
    ("text", "size"),
    [("1000", 1000), ("64k", 65536), ("500M", 500 * 1024**2), ("20G", 20 * 1024**3), ("1.5GiB", 1610612736)],
)
def test_limits_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize(("text", "seconds"), [("3600", 3600), ("90m", 5400), ("4h", 14400), ("2.5s", 2.5)])
def test_limits_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "lots", "12XB", "-5M", "1h30m"])
def test_limits_bad_values_say_how_to_write_them(text):
    with pytest.raises(ChorusError, match="write it like"):
        parse_size(text)
    with pytest.raises(ChorusError, match="write it like"):
        parse_duration(text)


def test_limits_formats_read_like_a_person_writes_them():
    assert [format_duration(s) for s in (0.24, 11, 75, 600, 5400)] == [
        "0.2 s",
        "11.0 s",
        "1:15",
        "10:00",
        "1:30:00",
    ]
    assert [format_bytes(b) for b in (12, 1536, 5 * 1024**2, 20 * 1024**3)] == [
        "12 bytes",
        "1.5 KB",
        "5.0 MB",
        "20.0 GB",
    ]


def test_limits_file_size_error_names_file_limit_and_flag_and_survives_pickling():
    path = str(SAMPLES / "videos" / "valleylife_93fj1_my_home.mkv")
    assert check_media_file(path) > 0
    with pytest.raises(LimitExceeded) as caught:
        check_media_file(path, max_bytes=1024)
    error = pickle.loads(pickle.dumps(caught.value))  # it travels back from worker processes
    assert isinstance(error, MediaError) and error.path == path
    assert str(error) == f"{path}: file is 44.4 KB; the limit is 1.0 KB (raise it with --max-file-size)"


def test_limits_cli_refuses_a_bad_flag_before_scanning(tmp_path):
    result = CliRunner().invoke(
        app, ["scan", str(SAMPLES / "videos"), "--out", str(tmp_path), "--max-file-size", "12XB"]
    )
    assert result.exit_code == 2 and "'12XB' is not a size" in result.output
    assert not (tmp_path / "chorus.db").exists()
