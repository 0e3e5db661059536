-- Marks a database as carrying the local shim, so the toolkit can tell it from a real Supabase one.
comment on schema auth is 'kwq8 local shim: stand-in for the Supabase auth schema';
