"""Parquet schema, writer and reader, analysis, statistics, plots and reports."""
