"""What people ask: the command table, the engine that answers, and one module per command family."""
