"""Measuring: the timer, its statistics, and what a measurement holds."""
