"""The test suite. A package (as is every folder in it), so test modules in
different folders may share a basename; see tests/helpers/ for what they share."""
