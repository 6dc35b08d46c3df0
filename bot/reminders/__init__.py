"""Review and channel reminders: when they fall due (schedule), what they say (message), and
exactly-once durable delivery through the channels' proactive senders (scheduler)."""
