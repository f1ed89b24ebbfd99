"""Work done after commit: the outbox table, its runner and the periodic sweeps."""
