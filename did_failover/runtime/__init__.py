"""The `serve` process: composition root, reload, metrics and health HTTP, sd_notify, logging."""
