# Developer shortcuts; the test command is scripts/test.
PYTHON ?= .venv/bin/python

.PHONY: bench bench-quick bench-sip deb

bench:  ## did-failover against its peers, every scenario (about 5 minutes); see bench/README.md
	$(PYTHON) -m bench.run

bench-quick:  ## the same, smaller (about a minute)
	$(PYTHON) -m bench.run --quick

bench-sip:  ## real SIP calls through the Asterisk test bed: dialplan vs did-failover (about 8 minutes)
	$(PYTHON) -m bench.sip.run

deb:  ## dist/did-failover_VERSION_amd64.deb (scripts/build-deb; README, "From the Debian package")
	scripts/build-deb dist
