"""venvrpm's fragile surfaces, one module per dependency, as pip-tools fences pip in ``_internal``.

What venvrpm reads of another tool's *text* (pip's messages, rpmbuild's ``Wrote:`` line,
rpmlint's findings) or takes from a library's *private* or moving API (virtualenv's embedded
wheels and its ``_virtualenv.py``, cyclonedx-python-lib's import paths) is read here and nowhere
else. Each module says what is fragile, which versions were checked, and what fails loudly when
it changes; tests/test_fenced.py holds real samples of each tool's output.
"""
