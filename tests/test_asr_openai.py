"""The openai-whisper engine on a checkpoint converted from the CTranslate2 model (same weights)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from analyzer import models
from analyzer.cli import app
from analyzer.errors import ModelError
from analyzer.media import decode_audio
from analyzer.transcribe import TranscribeOptions, create
from analyzer.transcribe.convert import convert_ct2_to_openai, read_ct2_variables
from tests.conftest import shared

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ct2_dir() -> Path:
    return Path(models.resolve("asr", "whisper-base").location)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory, ct2_dir: Path) -> Path:
    """Converted once for this module, through the CLI as a user would."""
    target = tmp_path_factory.mktemp("openai") / "whisper-base.pt"
    result = CliRunner().invoke(app, ["models", "convert", "--source", str(ct2_dir), "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert "245 tensors" in result.output
    return target


def test_asr_openai_checkpoint_splits_the_fused_projections(checkpoint, ct2_dir):
    import torch

    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state, dims = saved["model_state_dict"], saved["dims"]
    assert dims["n_audio_layer"] == dims["n_text_layer"] == 6 and dims["n_vocab"] == 51865
    ct2 = read_ct2_variables(ct2_dir / "model.bin")
    fused = ct2["encoder/layer_0/self_attention/linear_0/weight"].astype(np.float32)
    q, k, v = np.split(fused, 3)
    assert np.array_equal(state["encoder.blocks.0.attn.query.weight"].float().numpy(), q)
    assert np.array_equal(state["encoder.blocks.0.attn.key.weight"].float().numpy(), k)
    assert np.array_equal(state["encoder.blocks.0.attn.value.weight"].float().numpy(), v)
    cross_kv = ct2["decoder/layer_0/attention/linear_1/weight"].astype(np.float32)
    assert np.array_equal(
        state["decoder.blocks.0.cross_attn.value.weight"].float().numpy(), np.split(cross_kv, 2)[1]
    )
    assert "encoder.blocks.0.attn.key.bias" not in state  # openai-whisper's key has no bias
    assert saved["chorus"]["alignment_heads"][0] == [3, 1]


def test_asr_openai_whisper_loads_the_checkpoint_itself(checkpoint):
    import whisper

    model = whisper.load_model(str(checkpoint), device="cpu")
    assert model.is_multilingual and model.dims.n_text_state == 512


def test_asr_openai_and_faster_whisper_give_the_same_text_on_jfk(checkpoint):
    audio = decode_audio(str(shared("audio/openai-whisper/jfk.flac")))
    texts = {}
    for model in (str(checkpoint), "whisper-base"):
        engine = create(TranscribeOptions(model=model, word_timestamps=False))
        transcript = engine.transcribe(audio, "m-jfk")
        assert transcript.language == "en" and not transcript.flagged
        words = " ".join(s.text for s in transcript.segments).lower()
        texts[engine.name] = "".join(ch if ch.isalnum() else " " for ch in words).split()
    expected = "and so my fellow americans ask not what your country can do for you"
    expected += " ask what you can do for your country"
    assert texts["openai-whisper"] == texts["faster-whisper"] == expected.split()


def test_asr_openai_convert_refuses_a_folder_without_a_whisper_model(tmp_path):
    with pytest.raises(ModelError, match=r"no model\.bin"):
        convert_ct2_to_openai(tmp_path, tmp_path / "x.pt")
    (tmp_path / "model.bin").write_bytes(b"\x06\x00\x00\x00garbage")
    with pytest.raises(ModelError, match=re.escape(str(tmp_path))):
        convert_ct2_to_openai(tmp_path, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_asr_openai_engine_names_the_converted_entry_for_a_ct2_model():
    with pytest.raises(ModelError, match="whisper-base-openai"):
        create(TranscribeOptions(model="whisper-base", engine="openai-whisper"))
