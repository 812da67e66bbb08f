"""Set-of-Mark data engine: marks drawn from dataset annotations, described by a VLM over an
OpenAI-compatible API, turned into training Records about the *raw* image; plus multipanel figures.

Entry points: :func:`sphinx_x.engines.som.pipeline.build` and the ``sphinx-x-build-som`` command
(docs/som.md). The output folder has the OCR engine's layout (:mod:`sphinx_x.data.ocr.shards`), read by
the ``som_shards`` source reader.
"""
