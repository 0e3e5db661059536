"""Domains: name normalisation, the Namecheap and Vercel clients (and their local fakes), and the
jobs that register a paid domain exactly once and connect it to the site (docs/domains.md)."""
