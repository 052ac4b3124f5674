"""Run the edgehook CLI as `python -m edgehook`."""

from edgehook.cli import main

main()
