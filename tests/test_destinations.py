"""Destination syntax: what is accepted, what is refused, and that nothing dangerous ever gets through."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from did_failover.errors import InvalidDestination
from did_failover.routing.destinations import MAX_LENGTH, Destination, check_destination, parse_destination

# Characters that mean something to Dial(), to the dialplan or to a shell-ish reader.
DANGEROUS = set(" ,&|()\"'\\$`{}\n\r\t\0;")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pstn:123", Destination("pstn", "123")),
        ("pstn:+4930123456", Destination("pstn", "+4930123456")),
        ("pstn:" + "9" * 20, Destination("pstn", "9" * 20)),
        ("sip:alice@pbx.example.com", Destination("sip", "alice@pbx.example.com")),
        ("sip:alice@pbx.example.com:5060", Destination("sip", "alice@pbx.example.com:5060")),
        ("sip:+4930123@192.0.2.10", Destination("sip", "+4930123@192.0.2.10")),
        ("sip:bob@[2001:db8::1]:5070", Destination("sip", "bob@[2001:db8::1]:5070")),
        ("sip:bob@[::1]", Destination("sip", "bob@[::1]")),
        ("sip:a.b-c_d!~*%20x@host", Destination("sip", "a.b-c_d!~*%20x@host")),
        ("endpoint:desk-1", Destination("endpoint", "desk-1")),
        ("endpoint:" + "e" * 64, Destination("endpoint", "e" * 64)),
    ],
)
def test_valid_destinations_parse_to_kind_and_value(text: str, expected: Destination) -> None:
    """Each documented form parses, and its str() gives back the same text."""
    dest = parse_destination(text, "--primary")
    assert dest == expected
    assert str(dest) == text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "is not a destination"),
        ("123", "is not a destination"),
        ("tel:123", "is not a destination"),
        ("PSTN:123", "is not a destination"),
        ("pstn:12", "3 to 20 digits"),
        ("pstn:" + "1" * 21, "3 to 20 digits"),
        ("pstn:12a4", "3 to 20 digits"),
        ("pstn:123\n", "3 to 20 digits"),
        ("pstn:1+23", "3 to 20 digits"),
        ("pstn:١٢٣٤", "3 to 20 digits"),
        ("sip:a b@x", "user may use only RFC 3261"),
        ("sip:a&b@x", "user may use only RFC 3261"),
        ("sip:a,b@x", "user may use only RFC 3261"),
        ("sip:a)b@x", "user may use only RFC 3261"),
        ("sip:${EXTEN}@x", "user may use only RFC 3261"),
        ("sip:a%2@x", "user may use only RFC 3261"),
        ("sip:ü@x", "user may use only RFC 3261"),
        ("sip:alice", "expected sip:USER@HOST"),
        ("sip:@host", "expected sip:USER@HOST"),
        ("sip:alice@", "expected sip:USER@HOST"),
        ("sip:alice@host|x", "host must be"),
        ("sip:alice@-host", "host must be"),
        ("sip:alice@host.1", "host must be"),
        ("sip:alice@1.2.3.999", "host must be"),
        ("sip:alice@[1.2.3.4]", "host must be"),
        ("sip:alice@[fe80::1%eth0]", "host must be"),
        ("sip:alice@[2001:db8::1", "host must be"),
        ("sip:alice@[::1]x", "host must be"),
        ("sip:alice@h{x}", "host must be"),
        ("sip:alice@host:0", "port must be"),
        ("sip:alice@host:65536", "port must be"),
        ("sip:alice@host:", "port must be"),
        ("sip:alice@host:50a", "port must be"),
        ("endpoint:", "1 to 64 letters"),
        ("endpoint:desk 1", "1 to 64 letters"),
        ("endpoint:a/b", "1 to 64 letters"),
        ("endpoint:" + "e" * 65, "1 to 64 letters"),
        ("sip:a@" + "h" * 300, f"longer than {MAX_LENGTH}"),
    ],
)
def test_invalid_destination_message_names_field_and_rule(text: str, rule: str) -> None:
    """A refused destination gives one line naming the field and the rule broken."""
    with pytest.raises(InvalidDestination) as info:
        parse_destination(text, "--busy")
    message = str(info.value)
    assert message.startswith("--busy: ")
    assert rule in message
    assert "\n" not in message


def test_check_destination_refuses_a_hand_built_unsafe_destination() -> None:
    """check_destination re-validates what a hand-edited database could hold."""
    assert check_destination(Destination("pstn", "+123")) == Destination("pstn", "+123")
    with pytest.raises(InvalidDestination, match="busy"):
        check_destination(Destination("pstn", "123&Local/x"), "busy")
    with pytest.raises(InvalidDestination):
        check_destination(Destination("sip", "a@b,t"))


@given(st.text(max_size=300))
@example("sip:a@b:5060,r")
@example("pstn:123)")
@example("endpoint:a\u2028")
def test_random_text_is_parsed_or_refused_never_crashes(text: str) -> None:
    """Any text either parses or raises InvalidDestination; an accepted one is safe and round-trips."""
    try:
        dest = parse_destination(text, "--always")
    except InvalidDestination as exc:
        assert "\n" not in str(exc)
        return
    canonical = str(dest)
    assert canonical == text
    assert canonical.isascii()
    assert canonical.isprintable()
    assert not DANGEROUS & set(canonical)
    assert parse_destination(canonical, "x") == dest


_SIP_ALPHABET = st.sampled_from(list("abcAZ09-_.!~*+=;%@:[]") + list(" ,&|()\"'\\$`{}\n"))


@given(st.text(_SIP_ALPHABET, max_size=40))
def test_random_sip_uris_never_let_dangerous_characters_through(tail: str) -> None:
    """SIP-shaped text built from wanted and dangerous characters is never accepted with the latter."""
    try:
        dest = parse_destination("sip:" + tail, "--no-answer")
    except InvalidDestination:
        return
    assert not DANGEROUS & set(str(dest))
    user, _, host = dest.value.rpartition("@")
    assert user
    assert "[" not in user
    assert "]" not in host or host.startswith("[")
