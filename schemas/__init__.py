"""Message contracts for every Rasd topic: models, topic names and the one codec."""
