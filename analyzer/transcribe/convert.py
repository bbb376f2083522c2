"""CTranslate2 Whisper model -> openai-whisper checkpoint, so both engines share one set of weights.

openai-whisper's own checkpoints download from the project's URLs, which offline machines
cannot reach; the CTranslate2 model that faster-whisper uses is already here. Its
``model.bin`` is a flat list of named tensors (written by CTranslate2's
``ModelSpec._serialize``); openai-whisper wants a ``torch.save``d dict with ``dims`` and a
``model_state_dict`` named as in ``whisper/model.py``. CTranslate2 fuses the query, key and
value projections of self-attention into one matrix (and key/value of cross-attention into
another); openai-whisper keeps them apart and its key projection has no bias.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.errors import ModelError

CHECKPOINT_NAME = "model.pt"
# CTranslate2's DataType enum order (include/ctranslate2/types.h); 5 is bfloat16.
_DTYPES: dict[int, Any] = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}
_MIN_BINARY_VERSION = 4  # since version 4 every variable carries its type id and byte size


@dataclass(frozen=True)
class ConvertOptions:
    """How to write the checkpoint."""

    # float16 is what the CTranslate2 base model holds and what openai-whisper's own
    # checkpoints use; the engine upcasts to float32 on CPU when it loads them.
    dtype: str = "float16"


@dataclass(frozen=True)
class ConvertResult:
    """What a conversion wrote, for the CLI and for models/cache's marker file."""

    path: str
    source: str
    source_sha256: str
    dims: dict[str, int]
    n_tensors: int


def read_ct2_variables(model_bin: str | Path) -> dict[str, np.ndarray]:
    """Every named tensor in a CTranslate2 ``model.bin``, aliases resolved, as numpy arrays.

    Raises:
        ModelError: the file is not a CTranslate2 model this reader understands.
    """
    path = Path(model_bin)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read CTranslate2 model ({exc.strerror or exc})") from exc
    pos = 0

    def take(fmt: str) -> int:
        nonlocal pos
        (value,) = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize(fmt)
        return int(value)

    def text() -> str:
        nonlocal pos
        size = take("H")
        value = data[pos : pos + size - 1].decode("utf-8")
        pos += size
        return value

    try:
        version = take("I")
        if version < _MIN_BINARY_VERSION or version > 64:
            raise ModelError(
                f"{path}: CTranslate2 binary version {version} is not supported "
                f"(need >= {_MIN_BINARY_VERSION}); re-convert the model with a recent ctranslate2"
            )
        spec_name = text()
        take("I")  # spec revision
        if spec_name != "WhisperSpec":
            raise ModelError(f"{path}: a CTranslate2 {spec_name!r} model, not a Whisper model")
        variables: dict[str, np.ndarray] = {}
        for _ in range(take("I")):
            name = text()
            shape = tuple(take("I") for _ in range(take("B")))
            type_id = take("B")
            n_bytes = take("I")
            raw = data[pos : pos + n_bytes]
            pos += n_bytes
            variables[name] = _array(raw, type_id, shape, path, name)
        for _ in range(take("I")):
            alias, target = text(), text()
            variables[alias] = variables[target]
    except (struct.error, UnicodeDecodeError, KeyError) as exc:
        raise ModelError(f"{path}: truncated or not a CTranslate2 model.bin ({exc})") from exc
    return variables


def _array(raw: bytes, type_id: int, shape: tuple[int, ...], path: Path, name: str) -> np.ndarray:
    if type_id not in _DTYPES:
        raise ModelError(f"{path}: variable {name} has unknown CTranslate2 type id {type_id}")
    dtype = _DTYPES[type_id]
    if dtype == "bfloat16":  # no numpy bfloat16: widen the 16 bits into float32's top half
        return (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(shape)
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _weight(variables: dict[str, np.ndarray], scope: str) -> np.ndarray:
    """A float weight; int8/int16 weights are dequantized with their per-row scale."""
    weight = variables[f"{scope}/weight"]
    if weight.dtype in (np.int8, np.int16):
        scale = variables[f"{scope}/weight_scale"].astype(np.float32)
        scale = scale.reshape(-1, *([1] * (weight.ndim - 1))) if scale.ndim else scale
        return weight.astype(np.float32) / scale
    return weight.astype(np.float32)


def _dims(variables: dict[str, np.ndarray]) -> dict[str, int]:
    def layers(prefix: str) -> int:
        count = 0
        while f"{prefix}/layer_{count}/ffn/linear_0/weight" in variables:
            count += 1
        return count

    conv1 = variables["encoder/conv1/weight"]
    embeddings = variables["decoder/embeddings/weight"]
    return {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(variables["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(variables["encoder/num_heads"]),
        "n_audio_layer": layers("encoder"),
        "n_vocab": int(embeddings.shape[0]),
        "n_text_ctx": int(variables["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(embeddings.shape[1]),
        "n_text_head": int(variables["decoder/num_heads"]),
        "n_text_layer": layers("decoder"),
    }


def _attention(
    get: Callable[[str], np.ndarray], src: str, dst: str, fused_qkv: bool
) -> dict[str, np.ndarray]:
    """openai-whisper's query/key/value/out from CTranslate2's fused projections."""
    out: dict[str, np.ndarray] = {}
    if fused_qkv:  # self-attention: linear_0 = [q; k; v]
        w = get(f"{src}/linear_0/weight")
        b = get(f"{src}/linear_0/bias")
        wq, wk, wv = np.split(w, 3, axis=0)
        bq, _, bv = np.split(b, 3, axis=0)  # the key part of the bias is zeros: key has no bias
        out_scope = f"{src}/linear_1"
    else:  # cross-attention: linear_0 = q, linear_1 = [k; v]
        wq, bq = get(f"{src}/linear_0/weight"), get(f"{src}/linear_0/bias")
        wk, wv = np.split(get(f"{src}/linear_1/weight"), 2, axis=0)
        _, bv = np.split(get(f"{src}/linear_1/bias"), 2, axis=0)
        out_scope = f"{src}/linear_2"
    out[f"{dst}.query.weight"], out[f"{dst}.query.bias"] = wq, bq
    out[f"{dst}.key.weight"] = wk
    out[f"{dst}.value.weight"], out[f"{dst}.value.bias"] = wv, bv
    out[f"{dst}.out.weight"], out[f"{dst}.out.bias"] = get(f"{out_scope}/weight"), get(f"{out_scope}/bias")
    return out


def state_dict_from_ct2(variables: dict[str, np.ndarray]) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """(dims, state dict as float32 numpy arrays) in openai-whisper's names."""
    dims = _dims(variables)

    def get(name: str) -> np.ndarray:
        if name.endswith("/weight"):
            return _weight(variables, name[: -len("/weight")])
        return variables[name].astype(np.float32)

    def norm(src: str, dst: str) -> dict[str, np.ndarray]:
        return {f"{dst}.weight": get(f"{src}/gamma"), f"{dst}.bias": get(f"{src}/beta")}

    def mlp(src: str, dst: str) -> dict[str, np.ndarray]:
        return {
            f"{dst}.0.weight": get(f"{src}/linear_0/weight"),
            f"{dst}.0.bias": get(f"{src}/linear_0/bias"),
            f"{dst}.2.weight": get(f"{src}/linear_1/weight"),
            f"{dst}.2.bias": get(f"{src}/linear_1/bias"),
        }

    state: dict[str, np.ndarray] = {}
    for conv in ("conv1", "conv2"):
        state[f"encoder.{conv}.weight"] = get(f"encoder/{conv}/weight")
        state[f"encoder.{conv}.bias"] = get(f"encoder/{conv}/bias")
    state["encoder.positional_embedding"] = get("encoder/position_encodings/encodings")
    for i in range(dims["n_audio_layer"]):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        state.update(_attention(get, f"{src}/self_attention", f"{dst}.attn", fused_qkv=True))
        state.update(norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln"))
        state.update(mlp(f"{src}/ffn", f"{dst}.mlp"))
        state.update(norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln"))
    state.update(norm("encoder/layer_norm", "encoder.ln_post"))

    state["decoder.token_embedding.weight"] = get("decoder/embeddings/weight")
    state["decoder.positional_embedding"] = get("decoder/position_encodings/encodings")
    for i in range(dims["n_text_layer"]):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        state.update(_attention(get, f"{src}/self_attention", f"{dst}.attn", fused_qkv=True))
        state.update(norm(f"{src}/self_attention/layer_norm", f"{dst}.attn_ln"))
        state.update(_attention(get, f"{src}/attention", f"{dst}.cross_attn", fused_qkv=False))
        state.update(norm(f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln"))
        state.update(mlp(f"{src}/ffn", f"{dst}.mlp"))
        state.update(norm(f"{src}/ffn/layer_norm", f"{dst}.mlp_ln"))
    state.update(norm("decoder/layer_norm", "decoder.ln"))
    return dims, state


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def alignment_heads(model_dir: str | Path) -> list[list[int]]:
    """The (layer, head) pairs CTranslate2's config.json names for word timestamps."""
    config = Path(model_dir) / "config.json"
    try:
        heads = json.loads(config.read_text(encoding="utf-8")).get("alignment_heads") or []
    except (OSError, json.JSONDecodeError):
        return []
    return [[int(layer), int(head)] for layer, head in heads]


def convert_ct2_to_openai(
    model_dir: str | Path, dest: str | Path, options: ConvertOptions | None = None
) -> ConvertResult:
    """Write an openai-whisper checkpoint (``whisper.load_model(dest)`` loads it) from a CTranslate2 folder.

    The file is written to a temporary name and renamed, so a crash never leaves a
    half-written checkpoint that a later run would trust.

    Raises:
        ModelError: ``model_dir`` holds no readable CTranslate2 Whisper model.
    """
    import torch

    options = options or ConvertOptions()
    source = Path(model_dir)
    model_bin = source / "model.bin"
    if not model_bin.is_file():
        raise ModelError(f"{source}: no model.bin here; give a CTranslate2 Whisper model folder")
    dims, state = state_dict_from_ct2(read_ct2_variables(model_bin))
    dtype = {"float16": torch.float16, "float32": torch.float32}.get(options.dtype)
    if dtype is None:
        raise ModelError(f"checkpoint dtype {options.dtype!r} is not float16 or float32")
    source_sha = _sha256(model_bin)
    checkpoint = {
        "dims": dims,
        "model_state_dict": {
            k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype) for k, v in state.items()
        },
        # Extra keys are ignored by whisper.load_model; Chorus's engine reads them.
        "chorus": {
            "alignment_heads": alignment_heads(source),
            "source": str(source.resolve()),
            "source_sha256": source_sha,
        },
    }
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".convert-", suffix=".pt", dir=target.parent)
    os.close(fd)
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return ConvertResult(str(target), str(source), source_sha, dims, len(state))


def prepare_converted(name: str, force: bool = False) -> ConvertResult | None:
    """Convert the models.toml entry ``name`` (``convert_from`` another ASR model) into models/cache.

    Returns None when the cache already holds a finished conversion of the same source
    weights and ``force`` is off.

    Raises:
        ModelError: ``name`` is not a converted entry, or its source model is unavailable.
    """
    from analyzer import models

    spec = models.get_spec("asr", name)
    origin = spec.raw.get("convert_from")
    if not origin:
        raise ModelError(f"asr model {name!r} has no convert_from in models.toml; nothing to convert")
    source = models.resolve("asr", str(origin))
    if source.origin == "hub":
        raise ModelError(f"{name}: its source model {origin!r} is not on this machine; prepare it first")
    folder = models.cache_dir() / name
    marker = folder / "chorus-model.json"
    source_sha = _sha256(Path(source.location) / "model.bin")
    if not force and marker.is_file() and (folder / CHECKPOINT_NAME).is_file():
        try:
            done = json.loads(marker.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            done = {}
        if done.get("source_sha256") == source_sha:
            return None
    if marker.exists():
        marker.unlink()  # the marker is written last: absent means "not complete"
    result = convert_ct2_to_openai(source.location, folder / CHECKPOINT_NAME)
    marker.write_text(
        json.dumps(
            {"name": name, "origin": "converted", "from": origin, "source_sha256": result.source_sha256}
        )
    )
    return result
