"""Shared fixtures for the packseal test suite."""

pytest_plugins = ["sigstore_local.plugin"]
