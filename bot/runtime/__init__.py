"""Running Paperboy: wiring, the command line, settings, logs, health, metrics and doctor."""
