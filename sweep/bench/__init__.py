"""``python -m sweep bench``: the benchmark trainers (``suite``), their NumPy and JAX references
(``refs``) and the Markdown table with the machine's description (``report``)."""
