"""Errors of the cloud's models; the envelope module alone turns them into HTTP statuses."""

from __future__ import annotations


class CloudError(Exception):
    """Base: a request the cloud refuses, with a one-line reason for `head.errors`."""

    status = 400


class Invalid(CloudError):
    """Bad input: a missing field, a bad filter, JavaScript that is not ES5.1 (400)."""

    status = 400


class Forbidden(CloudError):
    """Missing or wrong credentials, or another company (403)."""

    status = 403


class NotFound(CloudError):
    """No such object (404)."""

    status = 404


class Conflict(CloudError):
    """The object exists already, e.g. a stream path or a device name (409)."""

    status = 409
