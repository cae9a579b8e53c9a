"""The local server's other wire formats, one module per provider API (see :mod:`llmtel.demo.server`)."""
