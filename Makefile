# Every target creates or reuses .venv and installs what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fuzz bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/dmsim run scenarios/tomato-robot.scenario.yaml --json out/demo-report.json --plot out/demo-timeline.png

test: $(STAMP)
	$(BIN)/python -m pytest -n auto -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench hil conftest.py
	$(BIN)/ruff format --check src tests bench hil conftest.py
	$(BIN)/mypy

# Long searches: every property test with thousands of examples, then the schedule fuzzer
# (which shrinks any violation and writes a regression test under out/fuzz).
fuzz: $(STAMP)
	DMSIM_HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -n auto -q tests/unit
	DMSIM_HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q tests/integration/replay/test_field_replay.py -k damaged
	DMSIM_HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q tests/integration/scenario/test_any_machine_config.py
	$(BIN)/dmsim fuzz scenarios/field-failures/upload-lost-after-ack-timeout.scenario.yaml --runs 100 --out out/fuzz
	$(BIN)/dmsim fuzz scenarios/field-failures/orphaned-prog-after-crash.scenario.yaml --runs 300 --out out/fuzz
	$(BIN)/dmsim fuzz scenarios/sensor-fleet.scenario.yaml --runs 100 --out out/fuzz
	$(BIN)/dmsim fuzz scenarios/inspection-station.scenario.yaml --runs 100 --max-faults 16 --out out/fuzz
	$(BIN)/dmsim fuzz scenarios/capture-on-demand.scenario.yaml --runs 40 --out out/fuzz
	$(BIN)/dmsim fuzz --machines 40 --runs 4 --out out/fuzz
	# a field directory (the replay tests' fixture: a torn .prog, failed/) replayed, then fuzzed
	rm -rf out/fuzz/field out/fuzz/field-case
	$(BIN)/python -c "from pathlib import Path; from tests.integration.replay.field import make_field_dir; make_field_dir(Path('out/fuzz/field'), boot_counter=3)"
	$(BIN)/dmsim replay out/fuzz/field --out out/fuzz/field-case --duration 30m
	$(BIN)/dmsim fuzz out/fuzz/field-case/replay-field.scenario.yaml --runs 300 --max-faults 16 --out out/fuzz \
		--kinds crash,clean_restart,disk_fill,disk_eio,disk_append_garbage,reconfigure,link_down,rpc_reject,drop_ack_after_commit,restart_mid_stream,rtc_unset,cloud_storage_full

bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
