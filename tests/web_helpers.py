"""Acting in the pages with Flask's test client (cookies kept between requests): signing
in through the form, reading a page's CSRF token, posting a form with it."""

from __future__ import annotations

import re

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client, login_name: str, password: str, *, expect: int = 303):
    form = client.get("/login")
    assert form.status_code == 200
    r = client.post(
        "/login",
        data={"login": login_name, "password": password, "csrf_token": csrf_of(form.text)},
    )
    assert r.status_code == expect, r.text
    return r


def post_form(client, page: str, action: str, data: dict | None = None, **kwargs):
    """Open `page`, then post `data` to `action` with the page's CSRF token."""
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    return client.post(action, data={**(data or {}), "csrf_token": csrf_of(shown.text)}, **kwargs)
