"""``python -m venvrpm``."""

import sys

from venvrpm.cli import main

sys.exit(main())
