-- The Arabic text of a ledger entry, for the transaction list of an Arabic-first dashboard.
-- Billing functions write the English description; this trigger (before insert, only when no
-- Arabic text was given) derives the Arabic one from what the entry is: the action's Arabic
-- name from action_costs, the grant's source, or the entry's type.
create or replace function billing.describe_in_arabic()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_action text;
begin
    if new.action is not null then
        select c.name_ar into v_action from public.action_costs as c where c.action = new.action;
    end if;
    v_action := coalesce(v_action, new.action);
    new.description_ar := case new.transaction_type
        when 'spend' then coalesce(v_action, 'استخدام الرصيد')
        when 'hold' then 'حجز رصيد: ' || coalesce(v_action, 'عملية')
        when 'capture' then 'تأكيد الحجز: ' || coalesce(v_action, 'عملية')
        when 'release' then case
            when new.metadata ->> 'reason' = 'generation_failed' then 'إرجاع رصيد: فشل ' || coalesce(v_action, 'الإنشاء')
            else 'إرجاع رصيد محجوز: ' || coalesce(v_action, 'عملية')
        end
        when 'refund' then 'استرجاع رصيد: ' || coalesce(v_action, 'عملية')
        when 'expire' then case
            when new.metadata ? 'refund_id' then 'سحب الرصيد بعد استرداد الدفعة'
            else 'انتهاء صلاحية الرصيد'
        end
        when 'grant' then case
            when new.metadata ->> 'reason' = 'signup' then 'رصيد ترحيبي'
            else case new.metadata ->> 'source'
                when 'monthly' then 'رصيد الباقة الشهري'
                when 'daily_bonus' then 'المكافأة اليومية'
                when 'purchase' then 'رصيد مشترى'
                when 'promo' then 'رصيد ترويجي'
                when 'refund' then 'رصيد تعويضي'
                when 'adjustment' then 'تعديل الرصيد'
                else 'إضافة رصيد'
            end
        end
        else 'عملية رصيد'
    end;
    return new;
end
$$;

revoke all on function billing.describe_in_arabic() from public;
