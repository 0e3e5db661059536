-- The plan's project quota: a user may have as many projects that are not archived as the
-- active plan's max_projects, or 1 without an active plan (billing.active_plan). Checked after
-- the row passed its policies (so a refused row reveals nothing about anyone's quota) on every
-- insert, on un-archiving and on a change of owner, for every role. A transaction-scoped
-- advisory lock per owner serialises concurrent creations, so two parallel inserts cannot
-- both see room for one more; it is not the users row lock the billing functions take.
create or replace function private.enforce_project_quota()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_plan public.plans;
    v_limit integer;
    v_count integer;
begin
    if new.status = 'archived' then
        return null;
    end if;
    if tg_op = 'UPDATE' and old.status <> 'archived' and old.user_id = new.user_id then
        return null;
    end if;
    perform pg_advisory_xact_lock(hashtext('public.projects quota'), hashtext(new.user_id::text));
    v_plan := billing.active_plan(new.user_id);
    v_limit := coalesce(v_plan.max_projects, 1);
    -- A statement of its own: under READ COMMITTED it sees what the lock's last holder committed.
    select count(*) into v_count
    from public.projects as p
    where p.user_id = new.user_id and p.status <> 'archived';
    if v_count > v_limit then
        perform private.raise_error(
            'PROJ_001',
            case
                when v_plan.code is null then format('without an active plan %s active project is allowed', v_limit)
                else format('the %s plan allows %s active projects', v_plan.code, v_limit)
            end,
            'archive a project or upgrade the plan'
        );
    end if;
    return null;
end
$$;

revoke all on function private.enforce_project_quota() from public;

drop trigger if exists projects_quota on public.projects;
create trigger projects_quota
after insert or update of status, user_id on public.projects
for each row execute function private.enforce_project_quota();
