// Mistakes a frontend can make, each of which must fail to compile (tests/contract/test_node_contract.py
// counts the markers and tsc's errors, which must all be on marked lines).
import type { SupabaseClient } from "@supabase/supabase-js";
import type { Database } from "../../types/database.js";

export async function mistakes(supabase: SupabaseClient<Database>): Promise<void> {
  await supabase.rpc("spend_credits", { acton: "chat_message", idempotency_key: "k" }); // must not compile
  await supabase.rpc("spend_credit", { action: "chat_message", idempotency_key: "k" }); // must not compile
  await supabase.rpc("reserve_credits", { action: 1, idempotency_key: "k" }); // must not compile
  const { data } = await supabase.rpc("spend_credits", { action: "chat_message", idempotency_key: "k" });
  const wrong: string | undefined = data?.balance; // must not compile
  await supabase.from("booking").select("*"); // must not compile
  void wrong;
}
