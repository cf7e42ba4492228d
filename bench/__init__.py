"""Benchmark of the did-failover FastAGI server against peer servers (not part of the runtime package)."""
