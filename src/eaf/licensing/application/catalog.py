"""Products and policies: commands on their aggregates, lists from read models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from eaf.application.aggregate import Aggregate
from eaf.application.repository import Repository
from eaf.db.pool import Database
from eaf.errors import AlreadyExistsError
from eaf.eventstore.errors import ConcurrencyError
from eaf.eventstore.postgres import PostgresEventStore
from eaf.licensing.domain.catalog import PolicyDefinition, Product
from eaf.licensing.domain.errors import CatalogNotFoundError
from eaf.licensing.domain.policy import Policy

A = TypeVar("A", bound=Aggregate)


def product_view(product: Product, created_at: datetime | None) -> dict[str, Any]:
    """The API form of a product; ``created_at`` is when it was recorded."""
    return {
        "name": product.id,
        "display_name": product.display_name,
        "status": "archived" if product.is_archived else "active",
        "created_at": created_at,
    }


def terms_view(terms: dict[str, Any]) -> dict[str, Any]:
    """The API form of a policy's terms (``Policy.to_dict`` output)."""
    return {
        "duration_days": terms["duration_days"],
        "grace_days": terms["grace_days"],
        "entitlements": terms["entitlements"],
        "limits": terms["limits"],
        "node_locked": terms["node_locked"],
        "trial": terms["is_trial"],
    }


def policy_view(
    definition: PolicyDefinition, created_at: datetime | None
) -> dict[str, Any]:
    """The API form of a policy: its product, status, terms and creation time."""
    return {
        "id": definition.id,
        "product": definition.product,
        "status": "archived" if definition.is_archived else "active",
        **terms_view(definition.policy.to_dict()),
        "created_at": created_at,
    }


class CatalogService:
    """The vendor's products and policies."""

    def __init__(self, db: Database, store: PostgresEventStore, vendor: str) -> None:
        self.db = db
        self.store = store
        self.vendor = vendor
        self.products = Repository(store, Product)
        self.policies = Repository(store, PolicyDefinition)

    async def create_product(self, name: str, display_name: str = "") -> Product:
        """Add a product; its name is what license files carry."""
        product = Product.create(name, display_name)
        await self._save_new(self.products, product, "product")
        return product

    async def get_product(self, name: str) -> Product:
        """The product ``name``.

        Raises:
            CatalogNotFoundError: there is no such product.
        """
        product = await self.products.load(self.vendor, name)
        if product is None:
            raise CatalogNotFoundError(f"no product {name!r}", product=name)
        return product

    async def archive_product(self, name: str) -> Product:
        """Stop issuing policies and licenses for the product."""
        product = await self.get_product(name)
        product.archive()
        await self.products.save(self.vendor, product)
        return product

    async def create_policy(
        self, policy: Policy, product_name: str
    ) -> PolicyDefinition:
        """Add ``policy`` (named by ``policy.name``) to an open product."""
        product = await self.get_product(product_name)
        definition = PolicyDefinition.create(policy, product)
        await self._save_new(self.policies, definition, "policy")
        return definition

    async def get_policy(self, policy_id: str) -> PolicyDefinition:
        """The policy ``policy_id``.

        Raises:
            CatalogNotFoundError: there is no such policy.
        """
        definition = await self.policies.load(self.vendor, policy_id)
        if definition is None:
            raise CatalogNotFoundError(f"no policy {policy_id!r}", policy=policy_id)
        return definition

    async def archive_policy(self, policy_id: str) -> PolicyDefinition:
        """Stop issuing licenses under the policy; issued ones are unaffected."""
        definition = await self.get_policy(policy_id)
        definition.archive()
        await self.policies.save(self.vendor, definition)
        return definition

    async def list_products(self) -> list[dict[str, Any]]:
        """Products from the read model, by name."""
        async with self.db.transaction(self.vendor) as conn:
            cur = await conn.execute(
                "SELECT name, display_name, status, created_at "
                "FROM licensing_products ORDER BY name"
            )
            return list(await cur.fetchall())

    async def list_policies(self, product: str | None = None) -> list[dict[str, Any]]:
        """Policies from the read model, optionally of one product."""
        async with self.db.transaction(self.vendor) as conn:
            cur = await conn.execute(
                "SELECT policy_id, product, status, terms, created_at "
                "FROM licensing_policies "
                "WHERE %(product)s::text IS NULL OR product = %(product)s "
                "ORDER BY product, policy_id",
                {"product": product},
            )
            rows = await cur.fetchall()
        return [_policy_row(row) for row in rows]

    async def created_at(self, aggregate: Aggregate) -> datetime | None:
        """When the first event of ``aggregate``'s stream was recorded.

        The same moment the read models show as ``created_at``.
        """
        # Catalog streams hold two events at most: reading them all is cheap
        # and leaves no half-read generator behind.
        created_at: datetime | None = None
        async for recorded in self.store.read_stream(self.vendor, aggregate.stream_id):
            created_at = created_at or recorded.recorded_at
        return created_at

    async def _save_new(
        self, repository: Repository[A], aggregate: A, kind: str
    ) -> None:
        try:
            await repository.save(self.vendor, aggregate)
        except ConcurrencyError as exc:
            raise AlreadyExistsError(
                f"{kind} {aggregate.id!r} already exists", **{kind: aggregate.id}
            ) from exc


def _policy_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["policy_id"],
        "product": row["product"],
        "status": row["status"],
        **terms_view(row["terms"]),
        "created_at": row["created_at"],
    }
