"""The contracts the core keeps with the outside: a chat platform's adapter and plugin, and storage."""
