"""Moved to the testing kit: `paperboy_testing.hf_server`. This name stays so imports written before the move work."""

import sys

import paperboy_testing.hf_server

sys.modules[__name__] = paperboy_testing.hf_server
