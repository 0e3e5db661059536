"""Benchmarks run against a scratch database of the local stack (`kwq8 bench ...`); not tests."""
