"""MMInstruct instruction data engine: images per domain -> a detailed caption from a VLM -> a text-only
LLM writes question/answer items of four types (judgement, multiple choice, short, long) from the caption
and sampled seed questions, in a tagged format -> quality rules -> training Records with type hints.

Entry points: :func:`sphinx_x.engines.instruct.pipeline.build` and the ``sphinx-x-build-instruct`` command
(docs/mminstruct.md). The output folder has the OCR engine's layout (:mod:`sphinx_x.data.ocr.shards`),
read by the ``instruct_shards`` source reader.
"""
