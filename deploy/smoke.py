#!/usr/bin/env python3
"""Smoke and data checks of a running EAF deployment over its HTTP entry.

Only the standard library is used, so the script runs on any host with
Python 3.10+, inside CI and next to a customer's installation.

    smoke.py probe --url URL --admin-password-file FILE   (reads only)
    smoke.py check --url URL --admin-password-file FILE   (creates a tenant)
    smoke.py seed --url URL --admin-password-file FILE --state FILE
    smoke.py verify --url URL --admin-password-file FILE --state FILE
    smoke.py load --url URL --admin-password-file FILE --state FILE --stop-file F
    smoke.py version --url URL [--expect VERSION]
    smoke.py watch --url URL --stop-file F [--max-failed N]

probe and check also read Licensing's published key set
(GET /api/v1/licensing/keys); watch asks IAM and Licensing in turn.

The admin password comes from --admin-password-file or the variable
EAF_SMOKE_ADMIN_PASSWORD; for an https entry signed by the site's own CA, give
--ca-file or EAF_SMOKE_CA_FILE. Every command exits 0 on success and 1 with a
message on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLIENT_ID = "eaf-cli"
VERSION_PATH = "/api/v1/version"
LICENSING_KEYS_PATH = "/api/v1/licensing/keys"
# The entry sends these to different backends (IAM, Licensing): watching
# both covers a rolling replacement of either.
WATCHED_PATHS = (VERSION_PATH, LICENSING_KEYS_PATH)
TRANSIENT_STATUSES = {0, 502, 503, 504}


class SmokeError(Exception):
    """A check failed; the message says which and why."""


@dataclass
class Reply:
    """Status and decoded body of one HTTP exchange (status 0: no answer)."""

    status: int
    body: Any
    error: str = ""


class Entry:
    """Client of the deployment's HTTP entry."""

    def __init__(
        self, base_url: str, timeout_s: float = 10.0, ca_file: str | None = None
    ) -> None:
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise SmokeError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.ca_file = ca_file or os.environ.get("EAF_SMOKE_CA_FILE") or None
        # The entry's certificate may come from the site's own CA.
        self.tls = ssl.create_default_context(cafile=self.ca_file)
        self.token: str | None = None

    def request(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
    ) -> Reply:
        headers = {"Accept": "application/json"}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 - scheme checked in __init__
                request, timeout=self.timeout_s, context=self.tls
            ) as response:
                return Reply(response.status, _decode(response.read()))
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, _decode(exc.read()))
        except urllib.error.URLError as exc:
            return Reply(0, None, error=str(exc.reason))
        except (TimeoutError, ConnectionError) as exc:
            return Reply(0, None, error=f"{type(exc).__name__}: {exc}")

    def expect(self, method: str, path: str, *statuses: int, **kwargs: Any) -> Any:
        reply = self.request(method, path, **kwargs)
        if reply.status not in statuses:
            raise SmokeError(f"{method} {path}: HTTP {reply.status} {reply.body!r}")
        return reply.body

    def log_in(self, realm: str, username: str, password: str) -> str:
        form = {
            "grant_type": "password",
            "client_id": CLIENT_ID,
            "username": username,
            "password": password,
        }
        path = f"/realms/{realm}/protocol/openid-connect/token"
        body = self.expect("POST", path, 200, form=form)
        if not isinstance(body, dict) or not body.get("access_token"):
            raise SmokeError(f"POST {path}: no access_token in {body!r}")
        return str(body["access_token"])


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


def wait_ready(entry: Entry, timeout_s: float) -> None:
    """Wait until /readyz answers 200."""
    deadline = time.monotonic() + timeout_s
    while True:
        reply = entry.request("GET", "/readyz")
        if reply.status == 200:
            return
        if time.monotonic() > deadline:
            raise SmokeError(f"/readyz still {reply.status} after {timeout_s:.0f}s")
        time.sleep(2)


def admin_entry(args: argparse.Namespace) -> Entry:
    entry = Entry(args.url, ca_file=args.ca_file)
    wait_ready(entry, args.ready_timeout)
    password = read_secret(args)
    entry.token = entry.log_in(args.admin_realm, args.admin_user, password)
    return entry


def read_secret(args: argparse.Namespace) -> str:
    if args.admin_password_file:
        return Path(args.admin_password_file).read_text().strip()
    password = os.environ.get("EAF_SMOKE_ADMIN_PASSWORD", "")
    if not password:
        raise SmokeError("give --admin-password-file or EAF_SMOKE_ADMIN_PASSWORD")
    return password


def list_usernames(entry: Entry, tenant: str) -> set[str]:
    body = entry.expect("GET", f"/api/v1/tenants/{tenant}/users", 200)
    items = body.get("items", []) if isinstance(body, dict) else body
    return {str(user["username"]) for user in items}


def create_user(entry: Entry, tenant: str, username: str, password: str) -> Reply:
    payload = {
        "username": username,
        "email": f"{username}@example.com",
        "password": password,
        "roles": ["member"],
    }
    return entry.request("POST", f"/api/v1/tenants/{tenant}/users", payload=payload)


def wait_for_users(
    entry: Entry, tenant: str, wanted: set[str], timeout_s: float
) -> set[str]:
    """Poll the read model until it lists every wanted user; return what is missing."""
    deadline = time.monotonic() + timeout_s
    while True:
        missing = wanted - list_usernames(entry, tenant)
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(1)


def check_licensing_keys(entry: Entry) -> int:
    """Licensing answers its published key set; return how many keys it holds."""
    body = entry.expect("GET", LICENSING_KEYS_PATH, 200)
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list):
        raise SmokeError(f"GET {LICENSING_KEYS_PATH}: no keys list in {body!r}")
    return len(keys)


def new_tenant(entry: Entry, prefix: str) -> str:
    slug = f"{prefix}-{uuid.uuid4().hex[:8]}"
    entry.expect(
        "POST", "/api/v1/tenants", 200, 201, payload={"slug": slug, "name": slug}
    )
    return slug


# --- commands -----------------------------------------------------------------


def run_probe(args: argparse.Namespace) -> dict[str, Any]:
    """Health, readiness, version, Licensing's key set and an admin token.

    Writes nothing.
    """
    entry = Entry(args.url, ca_file=args.ca_file)
    wait_ready(entry, args.ready_timeout)
    entry.expect("GET", "/healthz", 200)
    version = run_version(args)
    license_keys = check_licensing_keys(entry)
    admin_entry(args)
    return {"version": version, "license_keys": license_keys}


def run_check(args: argparse.Namespace) -> dict[str, Any]:
    """The probe, then tenant and user creation and the user's own token."""
    probe = run_probe(args)
    admin = admin_entry(args)
    tenant = new_tenant(admin, "smoke")
    username, password = "smoke-user", uuid.uuid4().hex
    reply = create_user(admin, tenant, username, password)
    if reply.status not in (200, 201):
        raise SmokeError(f"create user: HTTP {reply.status} {reply.body!r}")
    Entry(args.url, ca_file=args.ca_file).log_in(tenant, username, password)
    missing = wait_for_users(admin, tenant, {username}, args.consistency_timeout)
    if missing:
        raise SmokeError(f"user {username} not listed in tenant {tenant}")
    return {**probe, "tenant": tenant, "user": username}


def run_seed(args: argparse.Namespace) -> dict[str, Any]:
    """Create a tenant with users and remember them in the state file."""
    admin = admin_entry(args)
    tenant = new_tenant(admin, "seed")
    users = {}
    for number in range(args.users):
        username, password = f"seed-{number:03d}", uuid.uuid4().hex
        reply = create_user(admin, tenant, username, password)
        if reply.status not in (200, 201):
            raise SmokeError(f"create {username}: HTTP {reply.status} {reply.body!r}")
        users[username] = password
    state = {"tenant": tenant, "users": users}
    Path(args.state).write_text(json.dumps(state, indent=2))
    return {"tenant": tenant, "users": len(users)}


def run_verify(args: argparse.Namespace) -> dict[str, Any]:
    """Every user of the state file is listed and can still log in."""
    state = json.loads(Path(args.state).read_text())
    admin = admin_entry(args)
    tenant, users = state["tenant"], state["users"]
    missing = wait_for_users(admin, tenant, set(users), args.consistency_timeout)
    if missing:
        raise SmokeError(
            f"{len(missing)} users missing in {tenant}: {sorted(missing)[:5]}"
        )
    anonymous = Entry(args.url, ca_file=args.ca_file)
    for username, password in users.items():
        anonymous.log_in(tenant, username, password)
    return {"tenant": tenant, "users": len(users), "listed": "all"}


def run_load(args: argparse.Namespace) -> dict[str, Any]:
    """Create users until the stop file appears, then compare with the listing.

    A request that got no clear answer is repeated with the same username; a
    409 on a repeat means the first attempt had gone through.
    """
    admin = admin_entry(args)
    tenant = new_tenant(admin, "load")
    created: list[str] = []
    retried: dict[str, int] = {}
    deadline = time.monotonic() + args.max_seconds
    stop_file = Path(args.stop_file) if args.stop_file else None
    while time.monotonic() < deadline:
        if stop_file and stop_file.exists():
            break
        username = f"load-{len(created):05d}"
        for status in create_until_acknowledged(admin, tenant, username, deadline):
            retried[str(status)] = retried.get(str(status), 0) + 1
        created.append(username)
    missing = wait_for_users(admin, tenant, set(created), args.consistency_timeout)
    listed = {
        name for name in list_usernames(admin, tenant) if name.startswith("load-")
    }
    result = {
        "tenant": tenant,
        "created": len(created),
        "listed": len(listed),
        "missing": sorted(missing)[:10],
        "unexpected": sorted(listed - set(created))[:10],
        "retried_by_status": retried,
    }
    if args.state:
        Path(args.state).write_text(json.dumps(result, indent=2))
    if missing or len(listed) != len(created):
        raise SmokeError(f"events lost or duplicated: {json.dumps(result)}")
    return result


def create_until_acknowledged(
    entry: Entry, tenant: str, username: str, deadline: float
) -> list[int]:
    """Create one user, repeating on transient failures; return their statuses."""
    failures: list[int] = []
    while True:
        reply = create_user(entry, tenant, username, uuid.uuid4().hex)
        if reply.status in (200, 201):
            return failures
        if reply.status == 409 and failures:
            return failures
        if reply.status not in TRANSIENT_STATUSES and reply.status < 500:
            raise SmokeError(f"create {username}: HTTP {reply.status} {reply.body!r}")
        if time.monotonic() > deadline + 120:
            raise SmokeError(f"create {username}: no success within 120s of the end")
        failures.append(reply.status)
        time.sleep(0.5)


def run_watch(args: argparse.Namespace) -> dict[str, Any]:
    """Ask IAM and Licensing in turn, twice a second, until the stop file appears.

    Counts the answers by path and status and the versions seen: how
    available the entry stayed during an upgrade or rollback. A request
    without a 200 answer within the timeout counts as failed. Fails past
    --max-failed.
    """
    entry = Entry(args.url, timeout_s=10.0, ca_file=args.ca_file)
    stop_file = Path(args.stop_file) if args.stop_file else None
    deadline = time.monotonic() + args.max_seconds
    by_path: dict[str, dict[str, int]] = {path: {} for path in WATCHED_PATHS}
    versions: set[str] = set()
    # When and how the first failures failed, to tell the entry's answers
    # (HTTP 5xx) from connections that never reached it (status 0).
    failures: list[str] = []
    started = time.monotonic()
    turn = 0
    while time.monotonic() < deadline and not (stop_file and stop_file.exists()):
        path = WATCHED_PATHS[turn % len(WATCHED_PATHS)]
        turn += 1
        reply = entry.request("GET", path)
        statuses = by_path[path]
        statuses[str(reply.status)] = statuses.get(str(reply.status), 0) + 1
        if reply.status != 200 and len(failures) < 10:
            offset_s = time.monotonic() - started
            failures.append(
                f"+{offset_s:.1f}s {path} {reply.status} {reply.error}".rstrip()
            )
        if path == VERSION_PATH and reply.status == 200:
            body = reply.body if isinstance(reply.body, dict) else {}
            versions.add(str(body.get("version")))
        time.sleep(0.5)
    failed = sum(
        count
        for statuses in by_path.values()
        for status, count in statuses.items()
        if status != "200"
    )
    result = {
        "by_path": by_path,
        "requests": turn,
        "failed": failed,
        "failures": failures,
        "versions": sorted(versions),
    }
    if args.max_failed is not None and failed > args.max_failed:
        raise SmokeError(
            f"{failed} failed requests (at most {args.max_failed} allowed): "
            f"{json.dumps(result)}"
        )
    return result


def run_version(args: argparse.Namespace) -> dict[str, Any]:
    entry = Entry(args.url, ca_file=args.ca_file)
    wait_ready(entry, args.ready_timeout)
    body = entry.expect("GET", VERSION_PATH, 200)
    if not isinstance(body, dict):
        raise SmokeError(f"{VERSION_PATH}: not a JSON object: {body!r}")
    if args.expect and body.get("version") != args.expect:
        raise SmokeError(
            f"serving version {body.get('version')!r}, not {args.expect!r}"
        )
    return dict(body)


COMMANDS = {
    "probe": run_probe,
    "check": run_check,
    "seed": run_seed,
    "verify": run_verify,
    "load": run_load,
    "version": run_version,
    "watch": run_watch,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--ca-file", help="CA of the entry's certificate")
    parser.add_argument("--admin-realm", default="default")
    parser.add_argument("--admin-user", default="admin")
    parser.add_argument("--admin-password-file")
    parser.add_argument("--state", help="state file of seed/verify/load")
    parser.add_argument("--users", type=int, default=5, help="users to seed")
    parser.add_argument("--stop-file", help="load stops when this file exists")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--expect", help="version that must be served")
    parser.add_argument("--max-failed", type=int, help="watch: failures allowed")
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.add_argument("--consistency-timeout", type=float, default=60.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        result = COMMANDS[args.command](args)
    except SmokeError as exc:
        print(f"smoke {args.command}: FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"smoke {args.command}: ok {json.dumps(result, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
