"""Simulated HJ 212-2017 dust monitors (``dustgrid simulate``) and the demo city's devices."""
