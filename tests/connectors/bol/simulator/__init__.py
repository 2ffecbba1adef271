"""Tests of the bol.com simulator."""
