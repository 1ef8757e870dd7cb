"""The integration tests are a package (as are their sub-directories) so that a split test file keeps
its name in both trees: pytest imports tests/integration/plugins/filter/test_galera_state.py as
integration.plugins.filter.test_galera_state, which does not clash with tests/unit's test_galera_state
when both trees run in one pytest session."""
