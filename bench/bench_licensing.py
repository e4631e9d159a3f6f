"""Offline license validation throughput beside raw Ed25519 verification.

Run ``python bench/bench_licensing.py [--seconds S] [--rounds N] [--json PATH]``.
All rows work on licenses signed once in this process and are timed in
interleaved rounds. "vs raw" is a row's best rate as a fraction of the best
rate of raw Ed25519 verification (cryptography) of the floating license's
signature; node-locked validation checks two signatures, license and machine
certificate.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import cryptography

from eaf.licensing import (
    ActivationRequest,
    KeyRing,
    License,
    LicenseValidator,
    Policy,
    SigningKey,
    issue_machine_certificate,
    machine_fingerprint,
    sign_license,
    verify_license,
)
from eaf.licensing.signing import parse_jws

PRODUCT = "orbit"
MACHINE = {
    "machine_id": "4c4c4544004d3510804bb4c04f503032",
    "dmi_uuid": "4c4c4544-004d-3510-804b-b4c04f503032",
    "mac": "52:54:00:12:34:56",
    "hostname": "bench-host",
    "cpu_model": "bench cpu",
}


@dataclass
class Row:
    """One operation's rate in each round (operations per second)."""

    name: str
    rates: list[float]

    @property
    def best(self) -> float:
        return max(self.rates)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def time_slice(operation: Callable[[], object], seconds: float) -> float:
    """Call ``operation`` in batches for ``seconds``; return calls per second."""
    operations, batch = 0, 32
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(batch):
            operation()
        operations += batch
    return operations / (time.perf_counter() - started)


def measure(
    cases: dict[str, Callable[[], object]], seconds: float, rounds: int
) -> list[Row]:
    """Time every case in turn, round after round.

    Interleaving spreads background load over all cases alike, so the ratios
    hold even when the absolute rates wander.
    """
    rows = {name: Row(name, []) for name in cases}
    for operation in cases.values():
        operation()
    for _ in range(rounds):
        for name, operation in cases.items():
            rows[name].rates.append(time_slice(operation, seconds / rounds))
    return list(rows.values())


def build_cases(state_dir: Path) -> dict[str, Callable[[], object]]:
    """The operations to time, all on one license signed once."""
    key = SigningKey.generate()
    keyring = KeyRing()
    keyring.add(key.public_key)
    now = datetime.now(UTC).replace(microsecond=0)
    policy = Policy(
        "pro",
        duration_days=365,
        grace_days=14,
        entitlements=frozenset({"reports", "sso", "audit"}),
        node_locked=True,
    )
    license_ = License.issue(
        "lic-bench", product=PRODUCT, customer="acme", policy=policy, at=now
    )
    token = sign_license(license_.to_document(key_id=key.kid, at=now), key)
    fingerprint = machine_fingerprint(PRODUCT, MACHINE)
    request = ActivationRequest.create("lic-bench", PRODUCT, fingerprint, now=now)
    certificate = issue_machine_certificate(license_, request, key, now=now)

    document = license_.to_document(key_id=key.kid, at=now)
    floating_token = sign_license(replace(document, node_locked=False), key)

    jws = parse_jws(floating_token)
    signature, signing_input = jws.signature, jws.signing_input
    public_key = key.public_key
    floating = LicenseValidator(keyring, PRODUCT, floating_token)
    locked_options = {"fingerprint": fingerprint, "certificate_text": certificate}
    locked = LicenseValidator(keyring, PRODUCT, token, **locked_options)
    with_state = LicenseValidator(
        keyring, PRODUCT, token, state_path=state_dir / "last-seen", **locked_options
    )
    return {
        "raw Ed25519 verify (cryptography)": lambda: public_key.verify(
            signature, signing_input
        ),
        "verify_license: parse, verify, decode": lambda: verify_license(
            floating_token, keyring
        ),
        "validate: floating license": floating.validate,
        "validate: node-locked, machine certificate": locked.validate,
        "validate: node-locked, last-seen file": with_state.validate,
    }


def print_table(rows: list[Row]) -> None:
    """Print best and median rates and the fraction of raw verification."""
    raw = rows[0]
    width = max(len(row.name) for row in rows)
    print(
        f"{'operation':<{width}}  {'best ops/s':>10}  {'us/op':>7}"
        f"  {'median':>8}  {'vs raw':>6}"
    )
    for row in rows:
        micros = 1e6 / row.best
        ratio = row.best / raw.best
        print(
            f"{row.name:<{width}}  {row.best:>10,.0f}  {micros:>7.1f}"
            f"  {row.median:>8,.0f}  {ratio:>6.2f}"
        )


def main() -> None:
    """Parse arguments, run every case, print and optionally save results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per operation")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--json", type=Path, help="write results to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as state_dir:
        cases = build_cases(Path(state_dir))
        rows = measure(cases, args.seconds, args.rounds)
    print_table(rows)

    if args.json:
        results = {
            "python": platform.python_version(),
            "cryptography": cryptography.__version__,
            "machine": platform.machine(),
            "seconds_per_operation": args.seconds,
            "rounds": args.rounds,
            "rows": [
                {
                    "name": row.name,
                    "best_per_second": round(row.best, 1),
                    "median_per_second": round(row.median, 1),
                    "best_ratio_to_raw": round(row.best / rows[0].best, 4),
                }
                for row in rows
            ],
        }
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
