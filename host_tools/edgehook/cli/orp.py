"""`edgehook orp`: encode and decode ORP v2 frames for debugging serial captures."""

import click


@click.group()
def orp() -> None:
    """Encode and decode ORP v2 frames (the Octave Resource Protocol)."""


COMMANDS = [orp]
