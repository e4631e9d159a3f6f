"""Storage adapters of the licensing service (PostgreSQL)."""
