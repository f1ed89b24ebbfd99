"""grids domain."""
