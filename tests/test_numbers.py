"""Digit checks: `str.isdigit` takes `²`, `①` and other digits that `int` refuses (or reads as
something else), and `int` refuses more than 4,300 digits. Every number read from a user, a peer or
Asterisk goes through `is_digits` or `whole_number`; these are the places that did not."""

from __future__ import annotations

import pytest

from did_failover.errors import InputError, InvalidDestination
from did_failover.numbers import is_digits, whole_number
from did_failover.routing.dialstring import DialTemplates
from did_failover.settings import load_settings, parse_hostport
from did_failover.storage import open_repository

UNICODE_DIGITS = ["²", "①", "٣", "1²", "१२"]


@pytest.mark.parametrize("text", UNICODE_DIGITS)
def test_digits_outside_ascii_are_no_number(text: str) -> None:
    assert text.isdigit()  # what the standard check says
    assert not is_digits(text)
    assert whole_number(text, 9) is None


def test_whole_number_takes_ascii_digits_up_to_its_length() -> None:
    assert whole_number("042", 3) == 42
    assert whole_number("1234", 3) is None
    assert whole_number("9" * 5000, 9) is None  # int() would raise: past its 4,300 digits
    assert whole_number("", 9) is None and not is_digits("")


@pytest.mark.parametrize("port", ["²", "6²", "9" * 5000])
def test_a_listen_port_that_is_no_ascii_number_is_refused_in_one_line(port: str) -> None:
    with pytest.raises(ValueError, match="expected HOST:PORT") as refused:
        parse_hostport(f"127.0.0.1:{port}", 4573)
    assert len(str(refused.value)) < 5200 and "\n" not in str(refused.value)
    with pytest.raises(ValueError, match="a port alone"):
        parse_hostport("4573", 4573)


@pytest.mark.parametrize("port", ["²", "9" * 5000])
def test_a_mysql_port_that_is_no_ascii_number_is_refused(port: str) -> None:
    with pytest.raises(InputError, match=r"the MySQL port must be a number 1\.\.65535"):
        open_repository(f"mysql://root@127.0.0.1:{port}/db", 1.0)


@pytest.mark.parametrize("caller_id", ["²", "1555²", "①"])
def test_a_caller_id_of_other_digits_never_reaches_the_dial_string(caller_id: str) -> None:
    """The check before f(...) goes into Dial's options: ASCII digits only."""
    templates = DialTemplates(load_settings())
    assert templates.dial_options(30, "15551234").endswith("f(15551234)")
    with pytest.raises(InvalidDestination, match="is not a number"):
        templates.dial_options(30, caller_id)
