-- A gateway track id as every payments function accepts it (checkout charges and webhook
-- events): 1-255 characters, no spaces, control characters or slashes (it ends up in URLs).
create or replace function payments.require_track_id(p_track_id text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
    if p_track_id is null or char_length(p_track_id) not between 1 and 255 or p_track_id ~ '[[:cntrl:][:space:]/]' then
        perform private.raise_error('VAL_001', 'track_id must be 1-255 characters without spaces or slashes');
    end if;
end
$$;

revoke all on function payments.require_track_id(text) from public;
