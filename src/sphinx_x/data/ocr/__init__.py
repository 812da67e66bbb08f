"""OCR building blocks shared by the OCR dataset readers and the PDF data engine (which builds on
them): answer formats, reading order, exclusive chunks, labelled-box records, task names and
reading the engine's output shards."""
