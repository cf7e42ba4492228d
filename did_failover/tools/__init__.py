"""Operator tools over the real routing code: `did-failover check` and `did-failover simulate`."""
