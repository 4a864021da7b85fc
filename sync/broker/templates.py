"""The text of the files ``doms broker setup`` writes: Mosquitto configuration, ACL, and
the station's ``[sync]`` snippet. Kept as Python strings so they ship inside the package."""

from __future__ import annotations

import json
from string import Template

from sync.topics import ROOT

MOSQUITTO_CONF = Template("""\
# Mosquitto 2.0 configuration for doms site ${site}, written by `doms broker setup`.
# Run:  mosquitto -c ${conf}
# Re-running the setup keeps passwords (unless --rotate) and rewrites this file; after
# adding stations send SIGHUP to the running broker to reload passwd and acl.

# One password file and one ACL for every listener: nobody connects without a user.
per_listener_settings false
allow_anonymous false
password_file ${out}/passwd
acl_file ${out}/acl
${user_line}
# Plaintext, loopback only. For the hub when it runs on this host and for tools on this
# host: traffic that never leaves the machine gains nothing from TLS (whoever can read
# loopback here can read tls/server.key too), and password and ACL still apply. The
# client id is the username (below): a tool that logs in as a user that is running
# disconnects it, so give tools a user whose owner is stopped.
listener ${port} 127.0.0.1
use_username_as_clientid true

# TLS on every interface: what stations use. Server certificate signed by tls/ca.crt,
# which each station gets with its credentials.
listener ${tls_port}
certfile ${out}/tls/server.crt
keyfile ${out}/tls/server.key
cafile ${out}/tls/ca.crt
# The client id is forced to the username, so no user can take over (and disconnect)
# another user's session by connecting with its client id.
use_username_as_clientid true

# Sessions, retained statuses and queued messages survive a broker restart.
persistence true
persistence_location ${out}/data/
autosave_interval 30

# Per-client queue for an offline station or hub. The outbox and catch-up make any drop
# harmless (PROTOCOL.md), so the bound protects memory: at most 2000 messages or 16 MiB
# per client, whichever is reached first.
max_queued_messages 2000
max_queued_bytes 16777216
# Broker -> client QoS 1 messages awaiting PUBACK, per client (Mosquitto's default).
# Stations themselves keep at most 4 batches unacknowledged.
max_inflight_messages 20
# A station off for longer than this loses its broker session (not its data): it
# catches up from its high-water marks when it returns.
persistent_client_expiration 7d
set_tcp_nodelay true

log_dest stderr
log_timestamp_format %Y-%m-%dT%H:%M:%S
""")

STATION_TOML = Template("""\
# doms sync settings for ${who} of site ${site}, written by `doms broker setup`.
# Put this [sync] section into its configuration and copy the password file and
# the CA certificate to that machine (keep the password file mode 0600); change the two
# paths below if they live elsewhere there.
[sync]
enabled = true
host = ${host}
port = ${port}
username = ${username}
password_file = ${password_file}
tls_ca = ${tls_ca}
""")


def toml_str(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(value)


BOARD_TOML = Template("""\
# doms site board settings for site ${site}, written by `doms broker setup`.
# Run on an office PC:  doms board --config THIS_FILE
# The user ${username} may only read the site's statuses. Copy the password file and the
# CA certificate to that machine (password file mode 0600) and change the paths below.
site = ${site_str}

[sync]
enabled = true
host = ${host}
port = ${port}
username = ${username_str}
password_file = ${password_file}
tls_ca = ${tls_ca}
""")


def acl(site: str, stations: list[str], hub: str, board: str | None = None) -> str:
    """The ACL of PROTOCOL.md: each station writes only under its own ``st/<id>/`` and reads
    only the hub's stream and status, its own acks and assignments, and every station's
    status (the lead's site board); the hub reads every station and writes under ``hub/``;
    the ``board`` user reads the statuses and writes nothing. Anything not granted is
    denied."""
    base = f"{ROOT}/{site}"
    lines = [
        f"# Mosquitto ACL for doms site {site}, written by `doms broker setup` (see PROTOCOL.md).",
        "# Anything not granted here is denied; Mosquitto drops a denied publish silently.",
        "",
        f"user {hub}",
        f"topic read {base}/st/+/#",
        f"topic write {base}/hub/#",
    ]
    for station in stations:
        lines += [
            "",
            f"user {station}",
            f"topic write {base}/st/{station}/#",
            f"topic read {base}/hub/stream",
            f"topic read {base}/hub/status",
            f"topic read {base}/hub/ack/{station}",
            f"topic read {base}/hub/to/{station}",
            f"topic read {base}/st/+/status",
        ]
    if board is not None:
        lines += [
            "",
            f"user {board}",
            f"topic read {base}/st/+/status",
            f"topic read {base}/hub/status",
        ]
    return "\n".join(lines) + "\n"
