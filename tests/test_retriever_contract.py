"""The retriever contract table on every built-in retriever and on the
docs' KeywordRetriever (docs/examples/hooks/register_retrievers.py) and on the
docs' NumpyStore behind StoreRetriever (docs/examples/stores/numpy_store.py)."""

from __future__ import annotations

import pytest

from assistant.docgen import EXAMPLES
from assistant.testing import RetrieverContract

TestFaissRetriever = pytest.mark.real_model(RetrieverContract.for_retriever("faiss"))
TestDocsKeywordRetriever = RetrieverContract.for_retriever("keyword", plugins_dir=EXAMPLES)
TestDocsNumpyStore = pytest.mark.real_model(
    RetrieverContract.for_retriever("numpy", plugins_dir=EXAMPLES.parent / "stores"))
