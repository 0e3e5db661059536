"""The frontend contract: TypeScript types, Zod schemas, the error map, docs/frontend.md and
docs/api.md, generated from a migrated and seeded database and the billing service's models
(``kwq8 gen types``)."""
