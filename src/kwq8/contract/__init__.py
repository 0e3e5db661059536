"""The frontend contract: TypeScript types, Zod schemas, the error map and docs/frontend.md,
generated from a migrated database and the billing service's models (``kwq8 gen types``)."""
