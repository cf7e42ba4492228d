"""The `did-failover` command line: parsers, commands, rendering, progress."""
