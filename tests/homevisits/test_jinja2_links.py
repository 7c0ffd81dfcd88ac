"""The board's Jinja2 templates remember the links they build; a deployment under a path prefix
must still get its own links, not ones remembered for another prefix."""

from django.urls import reverse, set_script_prefix

from homevisits.jinja2 import url


def test_remembered_links_follow_the_deployments_path_prefix():
    try:
        assert url("visit-detail", args=[7]) == reverse("visit-detail", args=[7])
        set_script_prefix("/homevisits/")
        assert url("visit-detail", args=[7]).startswith("/homevisits/")
        assert url("visit-detail", args=[7]) == reverse("visit-detail", args=[7])
    finally:
        set_script_prefix("/")
    assert not url("visit-detail", args=[7]).startswith("/homevisits/")
