"""``python -m drivers.simulators --config FILE``."""

from .cli import main

raise SystemExit(main())
