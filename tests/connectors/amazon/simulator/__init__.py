"""Tests of the Amazon simulator."""
