"""The host bridge: the Octave edge side of ORP over serial, a durable outbox, uploads, commands."""
