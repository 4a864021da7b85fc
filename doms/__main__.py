import sys

from doms.cli import main

sys.exit(main())
