"""Evaluation: retrieval quality on BEIR-format data sets (more to come)."""
