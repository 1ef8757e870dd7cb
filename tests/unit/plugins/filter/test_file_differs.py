"""file_differs on its own: no find result means every path is written, and bad arguments are filter
errors that name the value. What the modules write and find reads is in tests/integration."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dbstack.galera.plugins.filter.file_differs import FilterModule


@pytest.fixture
def differs():
    return FilterModule().filters()["file_differs"]


def test_nothing_read_means_every_path_is_written(differs):
    assert differs(None, "/etc/mysql/dbstack-tls", "root", "mysql", "0750", directory=True) is True


@pytest.mark.parametrize(("args", "message"), [
    (("not a find result", "/x", "root", "root", "0644"), "registered result of ansible.builtin.find"),
    (({"files": []}, "relative/path", "root", "root", "0644"), "absolute path, got 'relative/path'"),
    (({"files": []}, "/x", "root", "root", "rw-r--r--"), "octal mode such as '0644', got 'rw-r--r--'"),
    (({"files": []}, "/x", "root", "root", "0644", 42), "content of /x must be text"),
])
def test_bad_arguments_are_filter_errors_naming_the_value(differs, args, message):
    with pytest.raises(AnsibleFilterError, match=f"file_differs: .*{message}"):
        differs(*args)
