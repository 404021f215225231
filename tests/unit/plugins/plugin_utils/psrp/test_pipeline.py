"""Pipeline request validation and typed-value decoding."""

from __future__ import annotations

from typing import Any

import pytest
from pypsrp.complex_objects import PSCredential
from pypsrp.serializer import Serializer, TaggedValue

from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._pipeline import (
    PipelineRequestError,
    empty_result,
    ps_credential,
    runspace_guid,
    secure_string,
    to_pypsrp_value,
    validate_request,
)


def test_plain_request_has_no_secret() -> None:
    assert validate_request({"commands": [{"name": "Get-Service", "parameters": {"Name": "WinRM"}}]}) is False


def test_typed_values_are_detected_anywhere() -> None:
    req: Any = {"commands": [{"name": "New-Thing", "parameters": {"Cred": ps_credential("u", "p")}}]}
    assert validate_request(req) is True
    req = {"commands": [{"name": "X", "arguments": [[{"a": secure_string("s")}]]}]}
    assert validate_request(req) is True
    req = {"commands": [{"name": "X"}], "input": [secure_string("s")]}
    assert validate_request(req) is True


@pytest.mark.parametrize(
    ("request_", "match"),
    [
        ({}, "commands"),
        ({"commands": []}, "commands"),
        ({"commands": [{"name": ""}]}, r"commands\[0\]"),
        ({"commands": [{"name": "x", "bogus": 1}]}, "unknown keys: bogus"),
        ({"commands": [{"name": "x", "parameters": []}]}, "parameters must be a dict"),
        ({"commands": [{"name": "x"}], "depth": -1}, "depth"),
        ({"commands": [{"name": "x"}], "host_input": [1]}, "host_input"),
        (
            {"commands": [{"name": "x", "parameters": {"p": {"__psrp_type__": "Bad"}}}]},
            "unknown __psrp_type__",
        ),
        (
            {"commands": [{"name": "x", "parameters": {"p": {"__psrp_type__": "SecureString"}}}]},
            "SecureString",
        ),
    ],
)
def test_malformed_requests(request_: Any, match: str) -> None:
    with pytest.raises(PipelineRequestError, match=match):
        validate_request(request_)


def test_decoding_to_pypsrp_types() -> None:
    cred = to_pypsrp_value(ps_credential("DOM\\u", "pw"))
    assert isinstance(cred, PSCredential) and cred.username == "DOM\\u" and cred.password == "pw"
    ss = to_pypsrp_value({"list": [secure_string("x")]})["list"][0]
    assert isinstance(ss, TaggedValue) and ss.tag == "SS" and ss.value == "x"
    assert to_pypsrp_value(5) == 5
    big = to_pypsrp_value(2**40)
    assert isinstance(big, TaggedValue) and big.tag == "I64"
    dbl = to_pypsrp_value(1.5)
    assert isinstance(dbl, TaggedValue) and dbl.tag == "Db"


def test_large_ints_serialize_as_int64() -> None:
    element = Serializer().serialize(to_pypsrp_value(2**40))
    assert element is not None and element.tag == "I64" and element.text == str(2**40)


def test_runspace_guid_is_printed_like_powershell() -> None:
    # pypsrp keeps RunspacePool.id upper case; PowerShell prints a GUID in lower case.
    assert runspace_guid("3F1C0E0A-2B4D-4E6F-8A9B-0C1D2E3F4A5B") == "3f1c0e0a-2b4d-4e6f-8a9b-0c1d2e3f4a5b"
    assert runspace_guid(None) is None
    assert runspace_guid("not-a-guid") is None
    assert empty_result()["runspace_id"] is None
