"""The did-failover route: decision (pure), dial strings, DID cache, and the AGI handler."""
