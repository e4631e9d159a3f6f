"""The vendor's catalog: products and the policies licenses are issued under.

Both are event-sourced aggregates of the vendor tenant. A policy's terms are
the domain :class:`Policy`; a license copies them when it is issued, so later
changes to the catalog never alter a license already granted.

Not exported from :mod:`eaf.licensing.domain`: products only validate licenses
and need none of this.
"""

from __future__ import annotations

from typing import Any

from eaf.application.aggregate import Aggregate, DomainEvent
from eaf.licensing.domain._text import check_text
from eaf.licensing.domain.errors import PolicyError
from eaf.licensing.domain.policy import Policy, check_name, check_term_counts


class ProductCreated(DomainEvent):
    """The vendor added a product it licenses."""

    name: str
    display_name: str


class ProductArchived(DomainEvent):
    """The product takes no new policies or licenses."""

    name: str


class Product(Aggregate):
    """A product the vendor licenses; its name appears in license files."""

    stream_type = "licensing.product"
    event_types = (ProductCreated, ProductArchived)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.display_name = ""
        self.is_archived = False

    @classmethod
    def create(cls, name: str, display_name: str = "") -> Product:
        """A new product; the display name defaults to the name."""
        product = cls(check_name("product", name))
        shown = check_text("display_name", display_name).strip() or name
        product.record(ProductCreated(name=name, display_name=shown[:200]))
        return product

    def archive(self) -> None:
        """Stop issuing under this product; archiving twice changes nothing."""
        if not self.is_archived:
            self.record(ProductArchived(name=self.id))

    def require_open(self) -> None:
        """Raise :class:`PolicyError` when the product is archived."""
        if self.is_archived:
            raise PolicyError(f"product {self.id!r} is archived", product=self.id)

    def apply(self, event: DomainEvent) -> None:
        """Change state for one event."""
        match event:
            case ProductCreated(display_name=display_name):
                self.display_name = display_name
            case ProductArchived():
                self.is_archived = True


class PolicyCreated(DomainEvent):
    """The vendor defined terms for licenses of one product."""

    policy_id: str
    product: str
    terms: dict[str, Any]


class PolicyArchived(DomainEvent):
    """No new license may be issued under the policy."""

    policy_id: str


class PolicyDefinition(Aggregate):
    """A named :class:`Policy` of one product, as the vendor keeps it."""

    stream_type = "licensing.policy"
    event_types = (PolicyCreated, PolicyArchived)

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.product = ""
        self.terms: Policy | None = None
        self.is_archived = False

    @classmethod
    def create(cls, policy: Policy, product: Product) -> PolicyDefinition:
        """A policy named ``policy.name`` for an open ``product``."""
        product.require_open()
        check_term_counts(policy)
        definition = cls(check_name("policy", policy.name))
        definition.record(
            PolicyCreated(
                policy_id=policy.name, product=product.id, terms=policy.to_dict()
            )
        )
        return definition

    @property
    def policy(self) -> Policy:
        """The terms; a definition always has them once created."""
        if self.terms is None:
            raise PolicyError(f"policy {self.id!r} has no terms")
        return self.terms

    def archive(self) -> None:
        """Stop issuing under this policy; archiving twice changes nothing."""
        if not self.is_archived:
            self.record(PolicyArchived(policy_id=self.id))

    def require_open(self) -> None:
        """Raise :class:`PolicyError` when the policy is archived."""
        if self.is_archived:
            raise PolicyError(f"policy {self.id!r} is archived", policy=self.id)

    def apply(self, event: DomainEvent) -> None:
        """Change state for one event."""
        match event:
            case PolicyCreated(product=product, terms=terms):
                self.product = product
                self.terms = Policy.from_dict(terms)
            case PolicyArchived():
                self.is_archived = True
