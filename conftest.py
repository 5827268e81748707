"""Hooks for every test of the repository, the notebooks that nbval executes included.

With ``$JETAD_EXECUTED`` set (``make test`` sets ``build/executed``), each notebook that nbval
runs with every cell passing is kept there (``jetad_utils.book.ExecutionRecorder``), so that
``make test-book`` renders those executions instead of running every notebook a second time.
"""

pytest_plugins = ["jetad_utils.book"]
