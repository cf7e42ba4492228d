"""What the tests share: free ports, `did-failover serve` as a process, fake channels, databases."""
