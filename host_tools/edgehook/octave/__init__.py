"""Talking to an Octave-compatible REST API (the real Octave cloud or `edgehook cloud serve`)."""
