"""``python -m pdtrail`` is the ``pdtrail`` command."""

import sys

from pdtrail._cli import main

sys.exit(main())
