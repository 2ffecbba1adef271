"""The orders both test shops keep, as the hub reads them.

The fake and the key shop are deliberately different connectors (consent and confirmation at once;
pasted credentials, processes and signed events), but their shops keep the same order records
(``FakeOrder`` in tests/contract/fake/shop.py, which the key shop's shop builds on), so both
connectors read them with this one mapping.
"""

from __future__ import annotations

from core.hubapi import Address, Money, Order, OrderItem, OrderStatus
from tests.contract.fake.shop import FakeOrder


def order_of(order: FakeOrder) -> Order:
    """A shop's order as a core Order (items unshipped while the order is open)."""
    unshipped = order.status in ("open", "partially_shipped")
    return Order(
        external_id=order.id,
        reference=f"#{order.id}",
        status=OrderStatus(order.status),
        created_at=order.created_at,
        updated_at=order.updated_at,
        marketplace="NL",
        recipient=Address(
            name=order.name,
            lines=[order.street],
            postal_code=order.postal_code,
            city=order.city,
            country_code=order.country,
        ),
        items=[
            OrderItem(
                external_id=item.id,
                sku=item.sku,
                title=item.title,
                quantity_ordered=item.quantity,
                quantity_unshipped=item.quantity if unshipped else 0,
                unit_price=Money(amount=item.price, currency="EUR"),
            )
            for item in order.items
        ],
    )
