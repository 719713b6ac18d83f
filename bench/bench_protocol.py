"""Decode (and encode) throughput of scada.protocol, per message type and for a realistic mix.

Run: ``python bench/bench_protocol.py [--seconds 0.15]``. Prints messages per second; the
target is >= 100,000 msg/s for small messages (readings, power, requests). Figures are printed,
never asserted: the exit status is 0 whatever the machine's speed.

The mix is what a console session and the uplink see from a 40-channel house: mostly readings,
some power changes, snapshots (40 channels, 8 actuators) and now and then a 5-minute status
(40 channels x 30 readings).
"""

from __future__ import annotations

import argparse
import functools
import platform
import random
import time
from collections.abc import Callable

from scada.protocol import (
    GetSnapshot,
    ProtocolError,
    WireMessage,
    decode,
    decode_as,
    encode,
)
from scada.protocol.examples import (
    example_command,
    example_power,
    example_reading,
    example_snapshot,
    example_status,
)

SMALL_TARGET = 100_000


def _rate(action: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``action``: the best of three runs of about ``seconds`` each."""
    batch = 1
    while True:  # size a batch to take at least a tenth of the run
        start = time.perf_counter()
        for _ in range(batch):
            action()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 10:
            break
        batch *= 2
    best = 0.0
    for _ in range(3):
        rounds, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(batch):
                action()
            rounds += batch
        best = max(best, rounds / elapsed)
    return best


def _reject(frame: bytes) -> Callable[[], object]:
    def action() -> object:
        try:
            return decode(frame)
        except ProtocolError as err:
            return err

    return action


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.15, help="length of one timing run")
    args = parser.parse_args()
    seconds: float = args.seconds

    samples: dict[str, WireMessage] = {
        "reading": example_reading(),
        "power": example_power(),
        "command": example_command(),
        "req.snapshot": GetSnapshot(id=1),
        "snapshot (40 ch)": example_snapshot(40, 8),
        "status (40 ch x 30)": example_status(40, 30),
    }
    small = ("reading", "power", "command", "req.snapshot")
    print(f"scada.protocol benchmark -- Python {platform.python_version()} on {platform.machine()}")
    print(f"{'message':<22}{'bytes':>8}{'decode/s':>13}{'decode_as/s':>13}{'encode/s':>13}")
    for name, msg in samples.items():
        frame, cls = encode(msg), type(msg)
        dec = _rate(functools.partial(decode, frame), seconds)
        dec_as = _rate(functools.partial(decode_as, frame, cls), seconds)
        enc = _rate(functools.partial(encode, msg), seconds)
        print(f"{name:<22}{len(frame):>8}{dec:>13,.0f}{dec_as:>13,.0f}{enc:>13,.0f}")
        if name in small:
            verdict = "ok" if dec >= SMALL_TARGET else "BELOW TARGET"
            print(f"{'':<22}small-message target {SMALL_TARGET:,}/s: {verdict}")

    bad_json = b'{"type":"reading","value":'
    bad_field = encode(samples["reading"]).replace(b"61.25", b'"hot"')
    for name, frame in (("reject: bad JSON", bad_json), ("reject: bad field", bad_field)):
        print(f"{name:<22}{len(frame):>8}{_rate(_reject(frame), seconds):>13,.0f}")

    weights = {"reading": 900, "power": 80, "snapshot (40 ch)": 15, "status (40 ch x 30)": 5}
    rng = random.Random(2025)
    mix = rng.sample(
        [encode(samples[name]) for name, count in weights.items() for _ in range(count)],
        k=sum(weights.values()),
    )
    mix_bytes = sum(len(f) for f in mix)

    def decode_mix() -> None:
        for frame in mix:
            decode(frame)

    mix_rate = _rate(decode_mix, seconds) * len(mix)
    shares = ", ".join(f"{count / 10:g}% {name}" for name, count in weights.items())
    print(f"mix ({shares}):")
    print(f"  {mix_rate:,.0f} msg/s, {mix_rate * mix_bytes / len(mix) / 1e6:,.1f} MB/s decoded")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
