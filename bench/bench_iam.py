"""IAM figures: token verification beside plain PyJWT, token endpoint requests/s.

Run ``python bench/bench_iam.py [--seconds S] [--rounds N] [--concurrency C]
[--json PATH] [--external]``. The run starts PostgreSQL and NATS JetStream on
127.0.0.1 (bench/_servers.py), then one EAF process (``python -m eaf serve
iam``) with production settings, including argon2's default cost, and sets up
a tenant, a user and a service account through the API.

Verification rows run in this process on one token: plain ``jwt.decode`` with
the key already in hand is the baseline; the SDK's ``RemoteTokenVerifier``
adds parsing, issuer checks and the JWKS cache lookup. Endpoint rows send
requests over loopback HTTP from C concurrent clients; ``GET /healthz`` on the
same server is the floor of what one request costs. Rounds are interleaved so
that background load falls on every row alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from _servers import BenchDatabase, running_servers

from eaf.security import RemoteTokenVerifier

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "iam.json"
ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105 - throwaway bench account
USER_PASSWORD = "bench-user-password"  # noqa: S105 - throwaway bench account


@dataclass
class Row:
    """One case's rate in each round (operations or requests per second)."""

    group: str
    name: str
    rates: list[float]
    errors: int = 0

    @property
    def best(self) -> float:
        return max(self.rates)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(db: BenchDatabase, nats_url: str, data_dir: Path) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {
        **os.environ,
        "EAF_DATABASE_URL": db.owner_dsn,
        "EAF_DATABASE_RUNTIME_URL": db.runtime_dsn,
        "EAF_NATS_URL": nats_url,
        "EAF_DATA_DIR": str(data_dir),
        "EAF_SECRET_KEY": "bench-secret-key",
        "EAF_STREAM_NAME": f"BENCH{tag}",
        "EAF_SUBJECT_PREFIX": f"bench{tag}",
        "EAF_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "EAF_LOG_LEVEL": "warning",
        "EAF_POOL_MAX_SIZE": "20",
    }


@contextlib.contextmanager
def eaf_server(env: dict[str, str]) -> Iterator[str]:
    """Bootstrap, then serve the IAM in a child process until the block ends."""
    eaf = [sys.executable, "-m", "eaf"]
    subprocess.run([*eaf, "bootstrap"], env=env, check=True, capture_output=True)
    port = free_port()
    command = [*eaf, "serve", "iam", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            if process.poll() is not None:
                errors = process.stderr.read().decode() if process.stderr else ""
                raise SystemExit(f"eaf serve iam exited: {errors}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


async def prepare(url: str) -> dict[str, Any]:
    """A tenant with a user and a service account; tokens for both."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        admin = await password_grant(http, "default", "admin", ADMIN_PASSWORD)
        headers = {"Authorization": f"Bearer {admin['access_token']}"}
        tenant = f"bench-{uuid.uuid4().hex[:6]}"
        await post(http, "/api/v1/tenants", {"slug": tenant, "name": "Bench"}, headers)
        user = {
            "username": "bench-user",
            "email": "bench@bench.example",
            "password": USER_PASSWORD,
        }
        await post(http, f"/api/v1/tenants/{tenant}/users", user, headers)
        account = await post(
            http,
            f"/api/v1/tenants/{tenant}/service-accounts",
            {"name": "bench", "roles": ["member"]},
            headers,
        )
        tokens = await password_grant(http, tenant, "bench-user", USER_PASSWORD)
    return {"tenant": tenant, "account": account, "token": tokens["access_token"]}


async def post(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    answer = await http.post(path, json=body, headers=headers)
    answer.raise_for_status()
    return dict(answer.json())


async def password_grant(
    http: httpx.AsyncClient, tenant: str, username: str, password: str
) -> dict[str, Any]:
    answer = await http.post(
        f"/realms/{tenant}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "eaf-cli",
            "username": username,
            "password": password,
        },
    )
    answer.raise_for_status()
    return dict(answer.json())


# --- verification ---------------------------------------------------------------


async def verification_cases(
    url: str, token: str, http: httpx.AsyncClient
) -> dict[str, Callable[[], Awaitable[object]]]:
    issuer = str(jwt.decode(token, options={"verify_signature": False})["iss"])
    keys = (await http.get(f"{issuer}/protocol/openid-connect/certs")).json()
    key = jwt.PyJWKSet.from_dict(keys)[jwt.get_unverified_header(token)["kid"]].key
    sdk = RemoteTokenVerifier(url, http=http)
    await sdk.verify(token)  # warm the JWKS cache: every later call is offline

    async def plain_pyjwt() -> object:
        return jwt.decode(
            token, key, algorithms=["RS256"], audience="eaf", issuer=issuer
        )

    return {
        "plain PyJWT decode (key in hand)": plain_pyjwt,
        "SDK RemoteTokenVerifier (cached JWKS)": lambda: sdk.verify(token),
    }


async def time_calls(call: Callable[[], Awaitable[object]], seconds: float) -> float:
    operations, batch = 0, 64
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(batch):
            await call()
        operations += batch
    return operations / (time.perf_counter() - started)


# --- token endpoint ---------------------------------------------------------------


def endpoint_cases(
    setup: dict[str, Any],
) -> dict[str, Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]]:
    tenant, account = setup["tenant"], setup["account"]
    token_path = f"/realms/{tenant}/protocol/openid-connect/token"
    credentials = (account["client_id"], account["client_secret"])
    password_form = {
        "grant_type": "password",
        "client_id": "eaf-cli",
        "username": "bench-user",
        "password": USER_PASSWORD,
    }
    return {
        "GET /healthz (HTTP floor)": lambda http: http.get("/healthz"),
        "token: client_credentials": lambda http: http.post(
            token_path, data={"grant_type": "client_credentials"}, auth=credentials
        ),
        "token: password (argon2id default cost)": lambda http: http.post(
            token_path, data=password_form
        ),
    }


async def load(
    url: str,
    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    seconds: float,
    concurrency: int,
) -> tuple[float, int]:
    """Requests per second from ``concurrency`` clients, and failed requests."""
    done, failed = 0, 0
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        started = time.perf_counter()

        async def client() -> None:
            nonlocal done, failed
            while time.perf_counter() - started < seconds:
                answer = await request(http)
                done += 1
                failed += answer.status_code != 200

        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return done / elapsed, failed


async def measure(url: str, args: argparse.Namespace) -> list[Row]:
    setup = await prepare(url)
    rows: list[Row] = []
    async with httpx.AsyncClient(timeout=30) as http:
        checks = await verification_cases(url, setup["token"], http)
        verify_rows = {name: Row("verify", name, []) for name in checks}
        for _ in range(args.rounds):
            for name, call in checks.items():
                rate = await time_calls(call, args.seconds / args.rounds)
                verify_rows[name].rates.append(rate)
        rows += verify_rows.values()
    requests = endpoint_cases(setup)
    http_rows = {name: Row("http", name, []) for name in requests}
    for _ in range(args.rounds):
        for name, request in requests.items():
            rate, failed = await load(
                url, request, args.seconds / args.rounds, args.concurrency
            )
            http_rows[name].rates.append(rate)
            http_rows[name].errors += failed
    return rows + list(http_rows.values())


def print_table(rows: list[Row], concurrency: int) -> None:
    width = max(len(row.name) for row in rows)
    print(
        f"{'case':<{width}}  {'best/s':>9}  {'median/s':>9}  {'us each':>9}"
        f"  {'vs first':>8}  {'errors':>6}"
    )
    for group, title in (
        ("verify", "token verification, one core, in process"),
        ("http", f"over loopback HTTP, {concurrency} concurrent clients"),
    ):
        print(f"-- {title}")
        members = [row for row in rows if row.group == group]
        for row in members:
            ratio = row.best / members[0].best
            print(
                f"{row.name:<{width}}  {row.best:>9,.0f}  {row.median:>9,.0f}"
                f"  {1e6 / row.best:>9,.1f}  {ratio:>8.2f}  {row.errors:>6}"
            )


def main() -> None:
    """Parse arguments, run every case, print and optionally save results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="per case")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP clients")
    parser.add_argument("--json", type=Path, default=None, help="results file")
    parser.add_argument(
        "--external", action="store_true", help="use EAF_TEST_* servers"
    )
    args = parser.parse_args()

    with (
        running_servers(args.external) as servers,
        tempfile.TemporaryDirectory(prefix="eaf-bench-iam-") as data_dir,
    ):
        db = servers.clone(servers.migrated_template(), "iam")
        env = server_env(db, servers.nats_url, Path(data_dir))
        with eaf_server(env) as url:
            rows = asyncio.run(measure(url, args))
    print_table(rows, args.concurrency)

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        results = {
            "python": platform.python_version(),
            "pyjwt": jwt.__version__,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "seconds_per_case": args.seconds,
            "rounds": args.rounds,
            "concurrency": args.concurrency,
            "rows": [
                {
                    "group": row.group,
                    "name": row.name,
                    "best_per_second": round(row.best, 1),
                    "median_per_second": round(row.median, 1),
                    "errors": row.errors,
                }
                for row in rows
            ],
        }
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
