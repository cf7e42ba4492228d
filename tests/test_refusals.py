"""A refusal is a type with its field: each shell names the field in its own words and picks its
status or exit code from the type (the CLI `--busy`, the page "Busy destination", the API
`busy.destination`)."""

from __future__ import annotations

import argparse

from did_failover.cli.commands import flags_of
from did_failover.errors import Conflict, Forbidden, InputError, NotFound, NothingToChange
from did_failover.web import forms
from did_failover.web.api_errors import api_name, refusal


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("did", metavar="DID")
    parser.add_argument("--no-answer")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--on", dest="enabled", action="store_const", const=True)
    group.add_argument("--off", dest="enabled", action="store_const", const=False)
    return parser


def test_each_shell_names_a_forward_list_step_in_its_own_words() -> None:
    """One refusal, three spellings of its field, the reason the same."""
    refused = InputError("voicemail is a final step: nothing can follow it", "no_answer", 2)
    assert (
        refused.words(flags_of(_parser()))
        == "--no-answer item 2: voicemail is a final step: nothing can follow it"
    )
    assert (
        refused.words(forms.label)
        == "No answer step 2 destination: voicemail is a final step: nothing can follow it"
    )
    assert (
        refused.words(api_name)
        == "no_answer.destination item 2: voicemail is a final step: nothing can follow it"
    )
    assert InputError("bad", "did").words(flags_of(_parser())) == "DID: bad"
    assert InputError("bad", "schedule").words(flags_of(_parser())) == "schedule: bad"  # no such option
    assert NothingToChange("no_answer", "enabled").words(flags_of(_parser())) == (
        "nothing to change: give --no-answer or --on/--off"
    )


def test_the_api_status_comes_from_the_type_never_the_text() -> None:
    """A message that says "not found" or "already exists" is still a 422 unless its type says otherwise."""
    assert refusal(InputError("DID 1555 not found here", "primary")).status == 422
    assert refusal(NotFound("nothing by that name")).status == 404
    assert refusal(Conflict("taken")).status == 409
    assert refusal(Forbidden("not for customers")).status == 403
    assert refusal(InputError("bad", "busy")).field == "busy"
    assert refusal(InputError("bad", "always")).field == "always"
