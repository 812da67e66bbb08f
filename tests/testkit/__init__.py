"""The one shared testkit: helpers imported as ``from tests.testkit.<module> import ...``.

- :mod:`tests.testkit.paths`: the repository root.
- :mod:`tests.testkit.configs`: Hydra composition as the command line does it.
- :mod:`tests.testkit.files`: JSON, JSON-lines and image fixture files.
- :mod:`tests.testkit.sources`: dataset-reader specs from the real configs, read in full.
- :mod:`tests.testkit.pdfs`: PDFs built on the fly for the OCR engine and ``ocr_pages`` reader.
- :mod:`tests.testkit.inference`: a demo-sized inference engine with random weights.
- :mod:`tests.testkit.benchmarks`: a tiny demo benchmark folder for the scorers.

Fixtures live in ``conftest.py`` files, helpers here.
"""
