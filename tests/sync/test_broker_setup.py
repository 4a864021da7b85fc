"""``doms broker setup``: the files it writes, and what a second run keeps."""

from __future__ import annotations

import base64
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from cryptography import x509

from sync.broker.passwd import hash_password, read_passwd, verify_password
from sync.broker.setup import setup_site, station_ids

ROOT = Path(__file__).resolve().parents[2]


def doms(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "doms", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def passwords(out: Path) -> dict[str, str]:
    return {p.stem: p.read_text() for p in (out / "credentials").glob("*.password")}


def test_cli_writes_the_site_folder(tmp_path):
    out = tmp_path / "site"
    done = doms("broker", "setup", "--site", "WH1", "--stations", "3", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"mosquitto -c {out}/mosquitto.conf" in done.stdout
    users = ["hub-WH1", "WH1-PACK-01", "WH1-PACK-02", "WH1-PACK-03", "board-WH1"]
    assert list(read_passwd(out / "passwd")) == users
    assert sorted(passwords(out)) == sorted(users)
    for user, pw in passwords(out).items():
        assert verify_password(pw, read_passwd(out / "passwd")[user])
    assert mode(out / "passwd") == 0o600
    assert mode(out / "credentials") == 0o700
    assert all(mode(p) == 0o600 for p in (out / "credentials").glob("*.password"))
    assert mode(out / "tls" / "ca.key") == 0o600 and mode(out / "tls" / "server.key") == 0o600


def test_conf_locks_the_broker_down(tmp_path):
    report = setup_site(tmp_path, "WH1", 1, host="b.test", port=1999, tls_port=8999)
    conf = report.conf.read_text().splitlines()
    for line in [
        "allow_anonymous false",
        f"password_file {tmp_path}/passwd",
        f"acl_file {tmp_path}/acl",
        "listener 1999 127.0.0.1",  # plaintext on loopback only
        "listener 8999",
        f"certfile {tmp_path}/tls/server.crt",
        f"persistence_location {tmp_path}/data/",
    ]:
        assert line in conf
    assert conf.count("use_username_as_clientid true") == 2  # on both listeners
    for option in ["max_queued_messages", "max_inflight_messages", "persistent_client_expiration"]:
        assert any(line.startswith(option + " ") for line in conf)


def test_acl_is_exactly_the_protocol(tmp_path):
    setup_site(tmp_path, "WH1", 2, host="b.test")
    rules: dict[str, list[str]] = {}
    for line in (tmp_path / "acl").read_text().splitlines():
        if line.startswith("user "):
            user = line.split()[1]
        elif line.startswith("topic "):
            rules.setdefault(user, []).append(line)
    assert rules["hub-WH1"] == ["topic read doms/v1/WH1/st/+/#", "topic write doms/v1/WH1/hub/#"]
    assert rules["WH1-PACK-02"] == [
        "topic write doms/v1/WH1/st/WH1-PACK-02/#",
        "topic read doms/v1/WH1/hub/stream",
        "topic read doms/v1/WH1/hub/status",
        "topic read doms/v1/WH1/hub/ack/WH1-PACK-02",
        "topic read doms/v1/WH1/hub/to/WH1-PACK-02",
        "topic read doms/v1/WH1/st/+/status",
    ]
    assert rules["board-WH1"] == [
        "topic read doms/v1/WH1/st/+/status",
        "topic read doms/v1/WH1/hub/status",
    ]
    assert set(rules) == {"hub-WH1", "WH1-PACK-01", "WH1-PACK-02", "board-WH1"}


def test_station_snippet_is_its_sync_section(tmp_path):
    setup_site(tmp_path, "WH1", 1, host="broker.wh1.lan", tls_port=8884)
    sync = tomllib.loads((tmp_path / "credentials" / "WH1-PACK-01.toml").read_text())["sync"]
    assert sync == {
        "enabled": True,
        "host": "broker.wh1.lan",
        "port": 8884,
        "username": "WH1-PACK-01",
        "password_file": str(tmp_path / "credentials" / "WH1-PACK-01.password"),
        "tls_ca": str(tmp_path / "tls" / "ca.crt"),
    }


def test_board_snippet_is_a_whole_board_config(tmp_path):
    from station.config import load_config

    setup_site(tmp_path, "WH2", 1, host="broker.wh2.lan", tls_port=8884)
    config = load_config(tmp_path / "credentials" / "board-WH2.toml")
    assert config.site == "WH2" and config.sync.username == "board-WH2"
    assert (config.sync.host, config.sync.port) == ("broker.wh2.lan", 8884)
    assert config.sync.password_file == str(tmp_path / "credentials" / "board-WH2.password")


def test_server_certificate_names_the_host_and_loopback(tmp_path):
    setup_site(tmp_path, "WH1", 1, host="broker.wh1.lan")
    cert = x509.load_pem_x509_certificate((tmp_path / "tls" / "server.crt").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"broker.wh1.lan", "localhost"}
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    ca = x509.load_pem_x509_certificate((tmp_path / "tls" / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)


def test_rerun_keeps_passwords_and_ca_and_adds_stations(tmp_path):
    setup_site(tmp_path, "WH1", 2, host="a.test")
    before, ca = passwords(tmp_path), (tmp_path / "tls" / "ca.crt").read_bytes()
    hashes = read_passwd(tmp_path / "passwd")
    report = setup_site(tmp_path, "WH1", 3, host="b.test")
    after = passwords(tmp_path)
    assert {u: after[u] for u in before} == before
    assert {u: read_passwd(tmp_path / "passwd")[u] for u in hashes} == hashes
    assert report.users == {
        "hub-WH1": "kept",
        "WH1-PACK-01": "kept",
        "WH1-PACK-02": "kept",
        "board-WH1": "kept",
        "WH1-PACK-03": "created",
    }
    assert (tmp_path / "tls" / "ca.crt").read_bytes() == ca
    assert report.tls == {"ca.crt": "kept", "server.crt": "reissued"}  # new host name


def test_rotate_gives_every_user_a_new_password(tmp_path):
    setup_site(tmp_path, "WH1", 1, host="a.test")
    before = passwords(tmp_path)
    report = setup_site(tmp_path, "WH1", 1, host="a.test", rotate=True)
    after = passwords(tmp_path)
    assert set(report.users.values()) == {"rotated"}
    assert all(after[u] != before[u] for u in before)
    assert report.tls == {"ca.crt": "kept", "server.crt": "kept"}


def test_fewer_stations_removes_their_users(tmp_path):
    setup_site(tmp_path, "WH1", 3, host="a.test")
    report = setup_site(tmp_path, "WH1", 2, host="a.test")
    assert report.removed == ["WH1-PACK-03"]
    assert "WH1-PACK-03" not in read_passwd(tmp_path / "passwd")
    assert "WH1-PACK-03" not in (tmp_path / "acl").read_text()
    assert not (tmp_path / "credentials" / "WH1-PACK-03.password").exists()


def test_hash_matches_mosquitto_passwd(tmp_path):
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd not installed")
    path = tmp_path / "pw"
    subprocess.run([tool, "-c", "-b", str(path), "u", "s3cret"], check=True, capture_output=True)
    theirs = read_passwd(path)["u"]
    assert theirs.startswith("$7$101$")
    assert verify_password("s3cret", theirs) and not verify_password("other", theirs)
    salt = base64.b64decode(theirs.split("$")[3])
    assert hash_password("s3cret", salt=salt) == theirs  # byte for byte the same


def test_bad_arguments_are_one_line(tmp_path):
    done = doms("broker", "setup", "--site", "W H", "--stations", "1", "--out", str(tmp_path))
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "site id" in done.stderr
    assert station_ids("WH1", 100)[::99] == ["WH1-PACK-01", "WH1-PACK-100"]


def test_a_lost_password_file_keeps_the_password_and_warns(tmp_path):
    setup_site(tmp_path, "WH1", 1, host="a.test")
    hashes = read_passwd(tmp_path / "passwd")
    (tmp_path / "credentials" / "WH1-PACK-01.password").unlink()
    report = setup_site(tmp_path, "WH1", 1, host="a.test")
    assert read_passwd(tmp_path / "passwd") == hashes  # the station's password still works
    assert report.users["WH1-PACK-01"] == "kept"
    assert any("WH1-PACK-01.password is missing" in w for w in report.warnings)


def test_a_lost_ca_key_is_an_error_not_a_new_ca(tmp_path):
    setup_site(tmp_path, "WH1", 1, host="a.test")
    (tmp_path / "tls" / "ca.key").unlink()
    with pytest.raises(ValueError, match="ca.key is not"):
        setup_site(tmp_path, "WH1", 1, host="a.test")
