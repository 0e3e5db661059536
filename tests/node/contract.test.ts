// The generated contract against the real @supabase/supabase-js: answers recorded from the real
// database and billing service (KWQ8_RECORDED, written by tests/contract/test_node_contract.py) are served
// to the client by its fetch, and what the client hands the frontend is checked with the
// generated Zod schemas and toKwq8Error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  AuthApiError,
  AuthRetryableFetchError,
  AuthSessionMissingError,
  AuthWeakPasswordError,
} from "@supabase/supabase-js";
import { Functions, Service, ServiceError, Tables } from "../../types/schemas.js";
import { AUTH_ERROR_CODES, ERROR_CODES, isKwq8ErrorCode, toKwq8Error } from "../../types/errors.js";
import { book, client, generationFailed, spendOnce } from "./sample_calls.js";

interface Entry {
  call: { rpc?: string; args?: Record<string, unknown>; from?: string; insert?: Record<string, unknown>; http?: string; schema?: string };
  status: number;
  body: unknown;
  expect: string | null;
}

const recorded: Entry[] = JSON.parse(readFileSync(process.env.KWQ8_RECORDED ?? "", "utf8"));

function replay(status: number, body: unknown): typeof fetch {
  return (async () =>
    new Response(body === null ? null : JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json" },
    })) as typeof fetch;
}

type AnyRpc = (fn: string, args?: Record<string, unknown>) => PromiseLike<{ data: unknown; error: unknown; status: number }>;
type AnyFrom = (table: string) => { insert: (row: Record<string, unknown>) => PromiseLike<{ error: unknown; status: number }> };

for (const entry of recorded.filter((e) => e.call.rpc)) {
  const fn = entry.call.rpc as keyof typeof Functions;
  test(`rpc ${fn} ${entry.expect ?? "ok"}`, async () => {
    const supabase = client(replay(entry.status, entry.body));
    assert.ok(Functions[fn], `no schema for ${fn}`);
    if (entry.expect === null) {
      const args = Functions[fn].Args.safeParse(entry.call.args ?? {});
      assert.ok(args.success, JSON.stringify(args.error?.issues));
    }
    const { data, error, status } = await (supabase.rpc as unknown as AnyRpc)(fn, entry.call.args);
    if (entry.expect === null) {
      assert.equal(error, null);
      const result = Functions[fn].Returns.safeParse(data);
      assert.ok(result.success, JSON.stringify(result.error?.issues) + " " + JSON.stringify(data));
    } else {
      assert.ok(error, "an error");
      const mapped = toKwq8Error(error, { status });
      assert.equal(mapped.code, entry.expect, JSON.stringify(entry.body));
      assert.equal(mapped.message_ar, ERROR_CODES[mapped.code].message_ar);
    }
  });
}

for (const entry of recorded.filter((e) => e.call.from)) {
  test(`insert into ${entry.call.from} ${entry.expect}`, async () => {
    const supabase = client(replay(entry.status, entry.body));
    const { error, status } = await (supabase.from as unknown as AnyFrom)(entry.call.from as string).insert(entry.call.insert ?? {});
    assert.ok(error);
    assert.equal(toKwq8Error(error, { status }).code, entry.expect, JSON.stringify(entry.body));
  });
}

for (const entry of recorded.filter((e) => e.call.http)) {
  test(`service: ${entry.call.http}`, () => {
    if (entry.call.schema === "error") {
      const body = ServiceError.parse(entry.body);
      assert.equal(toKwq8Error(body, { status: entry.status }).code, entry.expect);
      assert.equal(entry.status, ERROR_CODES[toKwq8Error(body).code].http_status);
    } else {
      const key = entry.call.schema as keyof typeof Service;
      const body = Service[key].Response.parse(entry.body) as { error?: unknown };
      if (entry.expect) assert.equal(toKwq8Error(body.error).code, entry.expect);
    }
  });
}

test("a failed generation's release answers GEN_001 through the typed sample", async () => {
  const entry = recorded.find((e) => e.call.rpc === "release_hold" && e.call.args?.failure_reason === "generation_failed");
  assert.ok(entry);
  const message = await generationFailed(
    client(replay(entry.status, entry.body)),
    String(entry.call.args?.user_id),
    String(entry.call.args?.hold_id),
  );
  assert.equal(message, ERROR_CODES.GEN_001.message_ar);
});

test("the typed samples run against recorded answers", async () => {
  const spend = recorded.find((e) => e.call.rpc === "spend_credits" && e.expect === null);
  const refused = recorded.find((e) => e.call.rpc === "spend_credits" && e.expect === "CREDIT_001");
  assert.ok(spend && refused);
  assert.equal(typeof (await spendOnce(client(replay(spend.status, spend.body)))), "number");
  assert.equal(await spendOnce(client(replay(refused.status, refused.body))), ERROR_CODES.CREDIT_001.message_ar);
  const badPhone = recorded.find((e) => e.call.from === "bookings" && e.expect === "BOOK_001");
  assert.ok(badPhone);
  assert.equal(await book(client(replay(badPhone.status, badPhone.body)), "8f14e45f-ceea-467f-a2f6-d1d8f0a1c2b3"), "BOOK_001");
});

test("Zod refuses what the database refuses, with the database's code", () => {
  const booking = {
    project_id: "8f14e45f-ceea-467f-a2f6-d1d8f0a1c2b3",
    customer_name: "سارة",
    phone: "+96555123456",
    service: "قص",
    starts_at: "2030-01-01T10:00:00+03:00",
  };
  assert.ok(Tables.bookings.Row.partial().safeParse(booking).success);
  const badPhone = Tables.bookings.Row.partial().safeParse({ ...booking, phone: "12345" });
  assert.equal(badPhone.success, false);
  assert.equal(toKwq8Error(badPhone.error).code, "BOOK_001");
  // 100 characters as PostgreSQL counts them, even when each needs two UTF-16 units.
  const name = Tables.bookings.Row.shape.customer_name;
  assert.ok(name.safeParse("😀".repeat(100)).success);
  assert.equal(toKwq8Error(name.safeParse("😀".repeat(101)).error).code, "BOOK_002");
  // The database trims names before its checks, so inputs are not held to them: it answers itself.
  assert.ok(Tables.bookings.Insert.safeParse({ ...booking, customer_name: "😀".repeat(101) }).success);
  const status = Tables.bookings.Insert.safeParse({ ...booking, status: "deleted" });
  assert.equal(toKwq8Error(status.error).code, "BOOK_002");
  assert.equal(toKwq8Error(Tables.projects.Row.shape.subdomain.safeParse("www").error).code, "PROJ_003");
  const subdomain = Tables.projects.Insert.safeParse({ name: "x", slug: "x", subdomain: "-bad" });
  assert.equal(subdomain.success, true, "subdomains are trimmed by the database, so inputs are not held to the check");
  const slug = Tables.projects.Row.shape.slug.safeParse("Has Spaces");
  assert.equal(toKwq8Error(slug.error).code, "PROJ_002");
  const unknownArgument = Functions.spend_credits.Args.safeParse({ acton: "x", idempotency_key: "k" });
  assert.equal(unknownArgument.success, false);
  assert.ok(Service["POST /billing/checkout"].Request.safeParse({ plan: "basic", payment_method: "knet" }).success);
  assert.equal(Service["POST /billing/checkout"].Request.safeParse({ plan: "basic", payment_method: "visa" }).success, false);
});

test("Supabase Auth errors become AUTH codes", () => {
  const cases: Array<[unknown, string]> = [
    [new AuthApiError("User already registered", 422, "user_already_exists"), "AUTH_001"],
    [new AuthApiError("Email address already registered", 422, "email_exists"), "AUTH_001"],
    [new AuthApiError("Invalid login credentials", 400, "invalid_credentials"), "AUTH_002"],
    [new AuthApiError("Session expired", 403, "session_expired"), "AUTH_003"],
    [new AuthApiError("Invalid Refresh Token: Refresh Token Not Found", 400, "refresh_token_not_found"), "AUTH_003"],
    [new AuthApiError("Email not confirmed", 400, "email_not_confirmed"), "AUTH_007"],
    [new AuthApiError("Request rate limit reached", 429, "over_request_rate_limit"), "RATE_001"],
    [new AuthApiError("Signups not allowed for this instance", 422, "signup_disabled"), "AUTH_010"],
    [new AuthApiError("Something new", 400, "a_code_added_later"), "AUTH_015"],
    [new AuthApiError("Invalid login credentials", 400, undefined), "AUTH_002"],
    [new AuthSessionMissingError(), "AUTH_004"],
    [new AuthWeakPasswordError("Password should be at least 6 characters", 422, ["length"]), "AUTH_008"],
    [new AuthRetryableFetchError("fetch failed", 0), "NET_001"],
    // PostgREST refusing an expired access token (before any SQL runs).
    [{ code: "PGRST303", message: "JWT expired", details: null, hint: null }, "AUTH_003"],
  ];
  for (const [err, code] of cases) assert.equal(toKwq8Error(err).code, code, String(err));
  for (const [auth, code] of Object.entries(AUTH_ERROR_CODES)) assert.ok(isKwq8ErrorCode(code), auth);
});

test("network failures, 429s and what else the browser can meet", async () => {
  const offline = client((async () => {
    throw new TypeError("fetch failed");
  }) as typeof fetch);
  const { error, status } = await (offline.rpc as unknown as AnyRpc)("spend_credits", { action: "chat_message", idempotency_key: "k" });
  assert.equal(toKwq8Error(error, { status }).code, "NET_001");
  const limited = client(replay(429, { message: "Too Many Requests" }));
  const answer = await (limited.rpc as unknown as AnyRpc)("get_credit_summary");
  assert.equal(toKwq8Error(answer.error, { status: answer.status }).code, "RATE_001");
  assert.equal(toKwq8Error(new Error("boom")).code, "SYS_001");
  assert.equal(toKwq8Error(undefined).code, "SYS_001");
  assert.equal(toKwq8Error({ code: "P0001", message: "CREDIT_001: balance too low" }).code, "CREDIT_001");
});
