# Developer shortcuts; the test command is scripts/test.
PYTHON ?= .venv/bin/python

.PHONY: bench bench-quick

bench:  ## did-failover against its peers, every scenario (about 5 minutes); see bench/README.md
	$(PYTHON) -m bench.run

bench-quick:  ## the same, smaller (about a minute)
	$(PYTHON) -m bench.run --quick
