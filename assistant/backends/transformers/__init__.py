"""The transformers backend: the reference implementation, and the one that trains.

``llm.py`` (``TransformersLLM``), ``decode.py`` (our decode loop: prompt
reuse, soft prompts and prefixes, a bfloat16 decode twin) and
``constraints.py`` (excluded and required words).
"""
