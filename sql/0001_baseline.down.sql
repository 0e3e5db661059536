-- Undoes 0001_baseline: the private schema must be empty by now.
drop schema if exists private;
