"""The local Octave-compatible cloud: REST subset, stream/event store, action runtime, tasks."""
