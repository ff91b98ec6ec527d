"""Webhook sink: POSTs signed alerts to subscribers ' URLs."""
