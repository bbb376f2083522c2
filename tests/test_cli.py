from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from analyzer.cli import app


def test_cli_help_is_instant_and_imports_no_heavy_module():
    code = (
        "import sys; from analyzer.cli import app; "
        "heavy = [m for m in ('torch', 'faster_whisper', 'sentence_transformers', 'hdbscan', 'spacy', 'av') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("command", ["scan", "check", "models", "prepare-models"])
def test_cli_every_command_has_help(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert len(result.output) > 100


def test_cli_scan_needs_an_input(tmp_path):
    result = CliRunner().invoke(app, ["scan", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["scan", str(empty), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no media files" in result.output


def test_cli_models_lists_the_registry():
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0
    assert "whisper-base" in result.output and "multilingual-e5-small" in result.output


def test_cli_check_on_missing_store_is_a_clear_error(tmp_path):
    clip = tmp_path / "a.wav"
    clip.write_bytes(b"RIFF")
    result = CliRunner().invoke(app, ["check", str(clip), "--store", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "chorus scan" in result.output
