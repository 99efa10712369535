"""Device profiles (edgekit/devices/profiles.py): typed through one pydantic schema, refusals in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.devices.profiles import from_dict, resolve
from edgekit.errors import InputError


def test_typed_profile_values() -> None:
    p = from_dict({"host": "b.lan", "port": 2222, "threads": 4, "emulated": True, "connect_timeout": 30}, "b", "b.toml")
    assert (p.kind, p.host, p.port, p.threads, p.emulated, p.connect_timeout, p.python, p.runtime) == \
        ("ssh", "b.lan", 2222, 4, True, 30, "python3", "auto")
    assert from_dict({"kind": "gpu", "delegate": "/x.so"}, "g", "g.toml").to_dict() == \
        {"name": "g", "kind": "gpu", "source": "g.toml", "python": "python3", "runtime": "auto",
         "connect_timeout": 10, "emulated": False, "delegate": "/x.so"}


@pytest.mark.parametrize(("doc", "message"), [
    ({"host": "x", "port": "22"}, "port must be an integer. Received: port='22'"),
    ({"host": "x", "port": True}, "port must be an integer. Received: port=True"),
    ({"host": "x", "port": 70000}, "port must be a number <= 65535. Received: port=70000"),
    ({"host": "x", "threads": 0}, "threads must be a number >= 1. Received: threads=0"),
    ({"kind": "local", "threads": 2.5}, "threads must be an integer. Received: threads=2.5"),
    ({"host": "x", "runtime": "tf"}, "runtime must be one of 'auto', 'ai_edge_litert' or 'tflite_runtime'"),
    ({"host": "x", "python": "  "}, "python must be a non-blank string"),
    ({"host": "x", "connect_timeout": 0}, "connect_timeout must be a number >= 1"),
    ({"host": "x", "emulated": "yes"}, "emulated must be true or false. Received: emulated='yes'"),
    ({"host": ["x"]}, "host must be a string. Received: host=['x']"),
    ({"kind": ["ssh"]}, "kind must be one of local, ssh, gpu, edgetpu"),
])
def test_wrong_types_name_key_expected_and_received(doc: dict, message: str) -> None:
    with pytest.raises(InputError) as e:
        from_dict(doc, "p", "p.toml")
    assert str(e.value).startswith("device profile p.toml: ") and message in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_ssh_url_goes_through_the_same_schema(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="port must be a number >= 1. Received: port=0"):
        resolve("ssh://a@b:0")
    assert resolve("ssh://me@board:22").port == 22
