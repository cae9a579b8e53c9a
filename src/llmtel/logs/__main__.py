"""``python -m llmtel.logs ARGS`` is ``llmtel logs ARGS`` (also how the tests run it in a subprocess)."""

import sys

from llmtel.logs.cli import main

sys.exit(main(sys.argv[1:]))
