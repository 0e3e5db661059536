"""Service-side helpers: Supabase access-token verification and log redaction."""
