"""A small instrumented shop service: several operations, an error path, a slow path, logs and correlation ids.

Run it against a receiver (or any OTLP/gRPC endpoint)::

    python examples/sample_service.py --endpoint 127.0.0.1:4317 --iterations 50

Each iteration is one customer visit under its own correlation id: browse the catalogue (cache lookups),
add to cart, check out (every fifth payment is declined: the error path), and every tenth visit builds a
slow sales report (the slow path). Standard-library logging is bridged into the log pipeline.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time

import otel_events

log = logging.getLogger("sample_service")


class PaymentDeclined(Exception):
    """The payment provider refused the card."""


@otel_events.traced_event("catalog.cache_lookup")
def lookup_product(product_id: int, cache: dict[int, str]) -> str:
    """Return a product name, from the cache when possible."""
    if product_id in cache:
        return cache[product_id]
    name = f"product-{product_id}"
    cache[product_id] = name
    return name


@otel_events.traced_event("catalog.browse")
def browse(rng: random.Random, cache: dict[int, str]) -> list[str]:
    """Look at a few products."""
    return [lookup_product(rng.randint(1, 5), cache) for _ in range(3)]


@otel_events.traced_event("cart.add", emit_logs=True)
def add_to_cart(user_id: str, products: list[str]) -> int:
    """Put the products in the user's cart."""
    otel_events.emit_event("user_activity", {"user.id": user_id, "cart.items": len(products)})
    return len(products)


@otel_events.traced_event("checkout.pay", emit_logs=True)
def pay(visit: int, amount: float) -> str:
    """Charge the card; every fifth payment is declined."""
    time.sleep(0.002)
    if visit % 5 == 4:
        log.error("payment declined for visit %d (amount %.2f)", visit, amount)
        raise PaymentDeclined(f"card declined for visit {visit}")
    log.info("payment accepted for visit %d", visit)
    return f"receipt-{visit}"


@otel_events.traced_event("report.generate")
def build_report(visit: int) -> None:
    """The slow path: a sales report that takes a while."""
    time.sleep(0.05)
    otel_events.emit_event("latency", {"report.visit": visit, "duration_ms": 50.0})


def visit_shop(visit: int, rng: random.Random, cache: dict[int, str]) -> None:
    """One customer visit, under its own correlation id."""
    user_id = f"user-{rng.randint(1, 20)}"
    with otel_events.correlation(f"visit-{visit:05d}"):
        otel_events.emit_event("session_start", {"user.id": user_id})
        products = browse(rng, cache)
        items = add_to_cart(user_id, products)
        try:
            pay(visit, amount=9.99 * items)
        except PaymentDeclined:
            if visit % 10 == 9:  # two declines in a row trip the breaker
                otel_events.emit_event("circuit_breaker_open", {"dependency": "payments"})
        if visit % 10 == 0:
            build_report(visit)
        otel_events.emit_event("session_end", {"user.id": user_id})


def main(argv: list[str] | None = None) -> int:
    """Run the sample service for a number of visits, then flush and exit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=None, help="OTLP/gRPC endpoint (default: OTEL_EXPORTER_OTLP_ENDPOINT)")
    parser.add_argument("--iterations", type=int, default=20, help="number of customer visits")
    parser.add_argument("--service-name", default="sample-shop")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    telemetry = otel_events.configure(
        service_name=args.service_name,
        endpoint=args.endpoint,
        logging_bridge=True,
        logging_level=logging.INFO,
    )
    rng = random.Random(args.seed)
    cache: dict[int, str] = {}
    try:
        for visit in range(args.iterations):
            visit_shop(visit, rng, cache)
    finally:
        telemetry.shutdown()
    print(f"sample-shop: {args.iterations} visits exported", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
