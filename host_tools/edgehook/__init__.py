"""edgehook: readings from a microcontroller to a customer's webhook, on the Octave model."""

__version__ = "0.1.0"
