"""`python -m ner` = the `ner` console script."""

import sys

from ner.cli import main

sys.exit(main())
