"""Signed webhooks (Standard Webhooks): the events, their signature, the URL guard, the HTTP POST and
the delivery every `serve` and `web` process runs beside its work."""
