"""Contribute a definition passage whenever the question names a known term."""

from assistant import Passage, hookimpl

GLOSSARY = {"faiss": "FAISS is a library for similarity search over dense vectors."}


@hookimpl
def retrieve(query, k, settings):
    words = {w.strip("?.,!").lower() for w in query.split()}
    return [Passage(id=f"glossary:{term}", text=text, source="glossary")
            for term, text in GLOSSARY.items() if term in words][:k]
