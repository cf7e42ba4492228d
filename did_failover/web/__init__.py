"""The web page (`did-failover web`): logins, the "DIDs Call Transfer" grid, a DID's edit page and the
accounts page, over the same admin/ service layer as the CLI. A separate process from `serve`."""
