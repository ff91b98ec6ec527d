"""Rasd: a Kafka news stream processor."""
__version__ = "0.1.0"
