"""`python -m bot` is the `paperboy` command."""

import sys

from bot.cli import main

sys.exit(main())
