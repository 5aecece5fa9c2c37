"""The pieces of the shared test helper; import them from `tests.test_case`."""
