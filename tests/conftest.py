"""Shared pytest setup: fixtures for real parts live in tests/fixtures/, one module per part."""

pytest_plugins = [
    "tests.fixtures.vboard",
    "tests.fixtures.cloud",
]
