"""Where the dashboard listens and when it needs a token: parsed and refused up front."""

from __future__ import annotations

import pytest

from gridsup.web.settings import WebConfigError, parse_listen, web_settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8470", ("127.0.0.1", 8470)),
        (":8470", ("127.0.0.1", 8470)),
        ("8470", ("127.0.0.1", 8470)),
        ("[::1]:9000", ("::1", 9000)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
    ],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["host:port", "127.0.0.1:70000", "[::1]9000", ""])
def test_bad_listen_addresses_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(WebConfigError, match="web: listen"):
        parse_listen(text)


def test_beyond_loopback_the_token_is_required_and_never_shown() -> None:
    with pytest.raises(WebConfigError, match="MY_TOKEN"):
        web_settings("0.0.0.0:8470", "MY_TOKEN", environ={})

    settings = web_settings("0.0.0.0:8470", "MY_TOKEN", environ={"MY_TOKEN": "s3cret-value"})

    assert not settings.loopback
    assert "s3cret" not in repr(settings) and "s3cret" not in settings.token_id
    assert settings.token_id.startswith("token:")


def test_loopback_needs_no_token() -> None:
    settings = web_settings("localhost:8470", environ={})
    assert settings.loopback and settings.token is None
