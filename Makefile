# The two commands of the README: `make demo` and `make test`. Both install what they need first.
# `make check-fast` is the inner loop: every check and every test except the drills (tests/drills), in minutes.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test check check-fast install install-test

demo: install
	$(BIN)/cdp-poc-studio demo

test: install-test
	bash scripts/check.sh

check:
	bash scripts/check.sh

check-fast:
	bash scripts/check.sh -m "not drill" -n 2 --dist loadfile

install:
	bash scripts/bootstrap.sh

install-test:
	bash scripts/bootstrap.sh --test
