# The two commands of the README: `make demo` and `make test`. Both install what they need first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test check install install-test

demo: install
	$(BIN)/cdp-poc-studio demo

test: install-test
	bash scripts/check.sh

check:
	bash scripts/check.sh

install:
	bash scripts/bootstrap.sh

install-test:
	bash scripts/bootstrap.sh --test
