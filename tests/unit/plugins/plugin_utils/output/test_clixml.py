"""_clixml: CLIXML produced by psrpcore's serializer, read by pypsrp's deserializer (what the
connection sees from Windows), converted to JSON-ready data.

Expected values come from an independent model of the rules in docs/invoke_command.md
(ConvertTo-Json -Depth semantics, win_powershell's enum and error shapes)."""

from __future__ import annotations

import base64
import datetime
import json
import math
import os
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.padding import PKCS7
from hypothesis import given, settings
from hypothesis import strategies as st
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSCredential,
    PSCryptoProvider,
    PSCustomObject,
    PSEnumBase,
    PSInt,
    PSObject,
    PSSecureString,
    PSType,
    serialize,
)
from pypsrp.serializer import Serializer

from ansible_collections.psremoting.core.plugins.plugin_utils.output._clixml import (
    SECURE_STRING_TEXT,
    error_record_to_dict,
    to_jsonable,
)
from ansible_collections.psremoting.core.plugins.plugin_utils.psrp._adapters import PSRemotingSerializer


class _Plain(PSCryptoProvider):
    """psrpcore needs a crypto provider; SecureString "encryption" is identity here."""

    def decrypt(self, value: bytes) -> bytes:
        return value

    def encrypt(self, value: bytes) -> bytes:
        return value

    def register_key(self, key: bytes) -> None:
        pass


@PSType(["System.ServiceProcess.ServiceControllerStatus"])
class ServiceControllerStatus(PSEnumBase):
    Stopped = 1
    StartPending = 2
    Running = 4


def roundtrip(value: Any) -> Any:
    element = serialize(value, _Plain())
    # Through text, as on the wire.
    return Serializer().deserialize(ET.tostring(element, encoding="unicode"))


# ---- the independent model ------------------------------------------------------------------

MARK = object()


def expected(value: Any, depth: int) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, ServiceControllerStatus):  # before int: psrpcore enums are ints
        if depth < 0:  # a deserialized enum is no value type: its string (win_powershell)
            return value.name
        return {
            "Type": "System.ServiceProcess.ServiceControllerStatus",
            "String": value.name,
            "Value": int(value),
        }
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        return str(value)
    return expected_container(value, depth)


def expected_container(value: Any, depth: int) -> Any:
    """The model's rule for hashtables, lists and objects: past ``depth``, their text."""
    if isinstance(value, dict):
        if depth < 0:
            return "System.Collections.Hashtable"
        return {str(k): expected(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth < 0:
            return " ".join(text(v) for v in value)
        return [expected(v, depth - 1) for v in value]
    if isinstance(value, PSObject):
        props = {p.name: p.get_value(value) for p in value.PSObject.extended_properties}
        if depth < 0:
            return text(value)
        return {k: expected(v, depth - 1) for k, v in props.items()}
    raise AssertionError(f"model has no rule for {type(value)}")


def text(value: Any) -> str:
    """[string]$value: $null is empty, whole doubles print without a fraction."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, ServiceControllerStatus):
        return value.name
    if isinstance(value, list):
        return " ".join(text(v) for v in value)
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    if isinstance(value, PSObject):
        props = {p.name: p.get_value(value) for p in value.PSObject.extended_properties}
        return "@{" + "; ".join(f"{k}={text(v)}" for k, v in props.items()) + "}"
    return str(value)


# ---- strategies ------------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,11}", fullmatch=True)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda f: f == 0 or abs(f) > 1e-300),
    st.text(st.characters(min_codepoint=32, max_codepoint=0xD7FF), max_size=20),
    st.sampled_from(list(ServiceControllerStatus)),
)


def _object(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.dictionaries(names, children, min_size=1, max_size=4).map(lambda d: PSCustomObject(**d))


values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4),
        st.dictionaries(names, children, max_size=4),
        _object(children),
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(value=values, depth=st.integers(min_value=0, max_value=4))
def test_roundtrip_matches_model(value: Any, depth: int) -> None:
    # PSCustomObject keys are case-insensitive in PowerShell; drop objects with clashing names.
    converted = to_jsonable(roundtrip(value), depth=depth)
    want = expected(value, depth)
    if isinstance(value, PSObject) and not isinstance(value, PSEnumBase):
        assert converted.pop("PSTypeNames") == [
            "Deserialized.System.Management.Automation.PSCustomObject",
            "Deserialized.System.Object",
        ]
    if isinstance(want, float) and isinstance(converted, float):
        assert math.isclose(converted, want, rel_tol=1e-15)
    else:
        assert converted == want
    json.dumps(converted)  # JSON-ready


def test_service_like_object_gets_type_names_computer_and_runspace() -> None:
    obj = PSCustomObject(Name="W32Time", Status=ServiceControllerStatus.Running)
    obj.PSObject.type_names.insert(0, "System.ServiceProcess.ServiceController")
    runspace = str(uuid.uuid4())
    converted = to_jsonable(roundtrip(obj), computer_name="dc01", runspace_id=runspace)
    assert converted == {
        "Name": "W32Time",
        "Status": {"Type": "System.ServiceProcess.ServiceControllerStatus", "String": "Running", "Value": 4},
        "PSTypeNames": [
            "Deserialized.System.ServiceProcess.ServiceController",
            "Deserialized.System.Management.Automation.PSCustomObject",
            "Deserialized.System.Object",
        ],
        "PSComputerName": "dc01",
        "RunspaceId": runspace,
        "PSShowComputerName": True,
    }


def test_escaped_property_names_are_decoded() -> None:
    """'_' before 'x'/'X' is escaped as _x005F_ in the N attribute (found by the property test);
    the JSON key is the real property name."""
    converted = to_jsonable(roundtrip(PSCustomObject(A_X=1, b_x0041_=2, Plain=3)))
    assert {k: v for k, v in converted.items() if k != "PSTypeNames"} == {"A_X": 1, "b_x0041_": 2, "Plain": 3}


def test_primitives_are_not_tagged() -> None:
    assert to_jsonable(roundtrip("text"), computer_name="dc01") == "text"
    assert to_jsonable(roundtrip(PSInt(5)), computer_name="dc01") == 5


def test_depth_limit_turns_nested_objects_into_their_string() -> None:
    inner = PSCustomObject(A=1)
    outer = PSCustomObject(Inner=inner, List=[1, 2])
    assert to_jsonable(roundtrip(outer), depth=0) == {
        "Inner": "@{A=1}",
        "List": "1 2",
        "PSTypeNames": [
            "Deserialized.System.Management.Automation.PSCustomObject",
            "Deserialized.System.Object",
        ],
    }


def test_datetime_guid_bytes() -> None:
    moment = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    guid = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
    converted = to_jsonable(roundtrip(PSCustomObject(When=moment, Id=guid, Data=b"\x01\x02\xff")))
    assert converted["When"].startswith("2024-05-06T07:08:09")
    parsed = datetime.datetime.fromisoformat(converted["When"].replace("Z", "+00:00"))
    assert parsed == moment
    assert converted["Id"] == str(guid)
    assert converted["Data"] == [1, 2, 255]


def test_secure_string_is_never_revealed() -> None:
    value = roundtrip(PSCustomObject(Secret=PSSecureString("hunter2")))
    converted = to_jsonable(value)
    assert converted["Secret"] == SECURE_STRING_TEXT
    assert "hunter2" not in json.dumps(converted)


class _Aes(PSCryptoProvider):
    """SecureString encryption as after a PSRP key exchange: AES-256-CBC, zero IV, PKCS7
    ([MS-PSRP] 3.2.5.4.2; the cipher pypsrp's RunspacePool.exchange_keys sets up)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(b"\x00" * 16))

    def encrypt(self, value: str) -> str:
        padder = PKCS7(128).padder()
        padded = padder.update(value.encode("utf-16-le")) + padder.finalize()
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()

    def decrypt(self, value: str) -> str:
        raise AssertionError("not used")

    def register_key(self, key: bytes) -> None:
        self.key = key


def test_secure_string_is_not_decrypted_after_the_key_exchange() -> None:
    """With the session key set, pypsrp's own deserializer would return the plain secret as a
    ``str``; the collection's replacement never decrypts it (output, nested, in a PSCredential)."""
    key = os.urandom(32)
    secret = "Sup3r-S3cret-hunter2"
    obj = PSCustomObject(
        Secret=PSSecureString(secret),
        Nested=[PSSecureString(secret)],
        Credential=PSCredential(UserName="alice", Password=PSSecureString(secret)),
    )
    element = serialize(obj, _Aes(key))
    plain = Serializer()
    plain.cipher = _Aes(key)._cipher()
    element_text = ET.tostring(element, encoding="unicode")
    # pypsrp alone decrypts it (what the adapter exists for; pypsrp itself is left unchanged)
    decrypted = plain.deserialize(element_text)
    assert secret in repr(decrypted.adapted_properties) + repr(decrypted.extended_properties)
    deserializer = PSRemotingSerializer()  # what every pool of the collection deserializes with
    deserializer.cipher = _Aes(key)._cipher()
    value = deserializer.deserialize(element_text)
    converted = to_jsonable(value, depth=3)
    assert converted["Secret"] == SECURE_STRING_TEXT
    assert converted["Nested"] == [SECURE_STRING_TEXT]
    assert converted["Credential"] == {"UserName": "alice", "Password": SECURE_STRING_TEXT}
    assert secret not in json.dumps(converted)
    assert secret not in repr(value.adapted_properties) + repr(value.extended_properties)
    # A top-level SecureString output object, as `param($s) $s` returns it.
    top = deserializer.deserialize(
        ET.tostring(serialize(PSSecureString(secret), _Aes(key)), encoding="unicode")
    )
    assert top == SECURE_STRING_TEXT


def test_float_specials_are_strings() -> None:
    assert to_jsonable(float("nan")) == "NaN"
    assert to_jsonable(float("-inf")) == "-Infinity"


def test_error_record_shape_like_win_powershell() -> None:
    record = ErrorRecord(
        Exception=NETException(Message="Cannot find any service with service name 'nope'."),
        CategoryInfo=ErrorCategoryInfo(
            Category=ErrorCategory.ObjectNotFound,
            Activity="Get-Service",
            Reason="ServiceCommandException",
            TargetName="nope",
            TargetType="String",
        ),
        FullyQualifiedErrorId="NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand",
        TargetObject="nope",
    )
    element = serialize(record, _Plain())
    deserialized = Serializer().deserialize(ET.tostring(element, encoding="unicode"))
    converted = error_record_to_dict(deserialized)
    assert converted["exception"]["message"] == "Cannot find any service with service name 'nope'."
    assert converted["exception"]["type"] == "System.Exception"
    assert converted["category_info"] == {
        "category": "ObjectNotFound",
        "category_id": 13,
        "activity": "Get-Service",
        "reason": "ServiceCommandException",
        "target_name": "nope",
        "target_type": "String",
    }
    assert converted["fully_qualified_error_id"].startswith("NoServiceFoundForGivenName")
    assert converted["target_object"] == "nope"
    assert converted["error_details"] is None
    assert converted["output"].startswith("Cannot find any service")
    assert "+ FullyQualifiedErrorId : NoServiceFoundForGivenName" in converted["output"]
    json.dumps(converted)


@pytest.mark.parametrize("depth", [0, 1, 5])
def test_hashtable_keys_become_strings(depth: int) -> None:
    converted = to_jsonable(roundtrip({1: "one", "two": 2}), depth=depth)
    assert converted == {"1": "one", "two": 2}
