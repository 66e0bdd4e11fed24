"""``python -m pdtrail`` is the ``pdtrail`` command."""

import sys

from pdtrail._entry import main

sys.exit(main())
