"""Every filter has a sidecar that documents it; tests/integration checks that ansible-doc renders it and
that its EXAMPLES really run."""

from __future__ import annotations

from sidecars import sidecar

FILTER_NAMES = ["haproxy_timeouts", "haproxy_time", "duration_seconds", "haproxy_time_seconds", "haproxy_time_problems"]


def test_every_registered_filter_has_a_sidecar(filters):
    assert sorted(filters) == sorted(FILTER_NAMES)
    for name in FILTER_NAMES:
        document = sidecar(name)
        assert document["DOCUMENTATION"]["name"] == name
        assert document["DOCUMENTATION"]["options"]["_input"]["required"] is True
        assert "_value" in document["RETURN"]


def test_haproxy_timeouts_documents_its_signature():
    options = sidecar("haproxy_timeouts")["DOCUMENTATION"]["options"]
    assert options["max_task_length"]["required"] is True
    assert options["margin"]["default"] == "25%"
    assert set(options) == {"_input", "max_task_length", "margin"}
