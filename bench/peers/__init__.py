"""Peer FastAGI servers the benchmark compares did-failover with; they live here only, never in fastagi/."""
