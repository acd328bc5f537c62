"""``python -m analysis.importers CONFIG``: the import stage of a study (see ``analysis.importers.stage``)."""

import sys

from analysis.importers.stage import main

sys.exit(main())
