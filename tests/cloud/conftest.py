"""Fixtures of the cloud tests: the loopback webhook sink their actions post to."""

import pytest

from tests.cloud.sink import Sink


@pytest.fixture(scope="module")
def sink():
    s = Sink()
    yield s
    s.close()
