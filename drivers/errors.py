"""Errors the device APIs raise to their callers."""

from __future__ import annotations


class DriverError(Exception):
    """Base class of every error raised by :mod:`drivers` device APIs."""


class DeviceUnavailable(DriverError):
    """The device did not answer (after retries) or its port is gone."""


class DeviceRejected(DriverError):
    """The device answered with a NACK."""


class PrinterNotReady(DriverError):
    """The printer reports a condition that prevents printing (paper out, cover open...)."""


class ConfigError(DriverError, ValueError):
    """A driver configuration is invalid."""


class HidUnavailable(DriverError):
    """The optional ``hidapi`` package is not installed."""
