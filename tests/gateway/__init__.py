"""Tests of the hall device gateway, device health and pad ratings."""
