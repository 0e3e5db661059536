// Frontend calls as a KWq8 developer writes them: compiled (tsc, strict) by the test suite, so
// a migration that renames an argument or changes a result breaks this file.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { Database } from "../../types/database.js";
import { Functions, Tables } from "../../types/schemas.js";
import { toKwq8Error } from "../../types/errors.js";

// Realtime is never opened here; Node 20 has no WebSocket for the client to find (browsers do).
class NoWebSocket {
  constructor() {
    throw new Error("realtime is not used by these tests");
  }
}

export function client(fetchImpl: typeof fetch): SupabaseClient<Database> {
  return createClient<Database>("http://127.0.0.1:54321", "anon-key", {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { fetch: fetchImpl },
    realtime: { transport: NoWebSocket as never },
  });
}

export async function spendOnce(supabase: SupabaseClient<Database>): Promise<number | string> {
  const args = Functions.spend_credits.Args.parse({ action: "chat_message", idempotency_key: "k-1" });
  const { data, error, status } = await supabase.rpc("spend_credits", args);
  if (error) return toKwq8Error(error, { status }).message_ar;
  const balance: number | null = data.balance;
  return balance ?? 0;
}

export async function summary(supabase: SupabaseClient<Database>): Promise<number> {
  const { data } = await supabase.rpc("get_credit_summary");
  const holds = data?.active_holds ?? [];
  return holds.length + (data?.daily_bonus?.remaining ?? 0);
}

export async function generationFailed(supabase: SupabaseClient<Database>, holdId: string): Promise<string | null> {
  const { data } = await supabase.rpc("release_hold", { hold_id: holdId, failure_reason: "generation_failed" });
  return data?.error ? toKwq8Error(data.error).message_ar : null;
}

export async function book(supabase: SupabaseClient<Database>, projectId: string): Promise<string | null> {
  const row = Tables.bookings.Insert.parse({
    project_id: projectId,
    customer_name: "سارة",
    phone: "55123456",
    service: "قص شعر",
    starts_at: "2030-01-01T10:00:00+03:00",
  });
  const { error, status } = await supabase.from("bookings").insert(row);
  return error ? toKwq8Error(error, { status }).code : null;
}

export async function myProjects(supabase: SupabaseClient<Database>): Promise<string[]> {
  const { data } = await supabase.from("projects").select("id, name, subdomain").eq("status", "published");
  return (data ?? []).map((p) => `${p.name} (${p.subdomain})`);
}
