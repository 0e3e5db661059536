// ---------------------------------------------------------------------------------------------
// toKwq8Error: one KWq8 code for any failure the frontend meets.
//
//  * the Data API (supabase.rpc / supabase.from): functions raise catalogued codes, which
//    PostgREST answers as {code, message (Arabic), details (English), hint}; raw Postgres errors
//    (a constraint a direct write broke, a malformed uuid, a missing privilege) are mapped by
//    SQLSTATE, and a constraint's own code comes from CONSTRAINT_ERROR_CODES;
//  * Supabase Auth (supabase.auth.*): its documented error codes, by AUTH_ERROR_CODES;
//  * HTTP 429 from anywhere: RATE_001; a request that never got an answer: NET_001;
//  * the billing and domain services: their body is already {code, message, details, hint};
//  * Zod: the shared schemas carry the database's codes as their messages.
// ---------------------------------------------------------------------------------------------

export interface Kwq8Error {
  code: Kwq8ErrorCode;
  http_status: number;
  message_ar: string;
  message_en: string;
  /** English, for logs: what the server said, when it said more than the catalogue. */
  details: string | null;
  hint: string | null;
  /** The original failure. */
  cause: unknown;
}

// The errors supabase-js raises itself, without asking the Auth server (no `code`).
const AUTH_CLIENT_ERRORS: Record<string, Kwq8ErrorCode> = {
  AuthSessionMissingError: "AUTH_004",
  AuthInvalidCredentialsError: "AUTH_002",
  AuthWeakPasswordError: "AUTH_008",
  AuthInvalidTokenResponseError: "AUTH_005",
  AuthInvalidJwtError: "AUTH_005",
  AuthPKCEGrantCodeExchangeError: "AUTH_011",
  AuthPKCECodeVerifierMissingError: "AUTH_011",
  AuthImplicitGrantRedirectError: "AUTH_011",
  AuthRetryableFetchError: "NET_001",
};

const CODE_PATTERN = /\b([A-Z]+_[0-9]{3})\b/;

export function isKwq8ErrorCode(value: unknown): value is Kwq8ErrorCode {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

function make(code: Kwq8ErrorCode, cause: unknown, details: string | null = null, hint: string | null = null): Kwq8Error {
  const entry = ERROR_CODES[code];
  return {
    code,
    http_status: entry.http_status,
    message_ar: entry.message_ar,
    message_en: entry.message_en,
    details,
    hint,
    cause,
  };
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function field(err: object, name: string): unknown {
  return (err as Record<string, unknown>)[name];
}

/** The code a constraint violation maps to, from the constraint named in the message. */
function constraintCode(message: string | null, details: string | null): Kwq8ErrorCode | null {
  for (const source of [message, details]) {
    if (!source) continue;
    const match = /constraint "([^"]+)"/.exec(source);
    if (match) {
      const code = CONSTRAINT_ERROR_CODES[match[1]];
      if (code) return code;
    }
  }
  return null;
}

function fromSqlState(sqlstate: string, status: number | null, message: string | null, details: string | null): Kwq8ErrorCode {
  switch (sqlstate) {
    case "23514":
      return constraintCode(message, details) ?? "VAL_001";
    case "23505":
      return constraintCode(message, details) ?? "VAL_009";
    case "23503":
      return constraintCode(message, details) ?? "VAL_008";
    case "23502":
      return "VAL_010";
    case "22001":
      return "VAL_005";
    case "22P02":
    case "22P05":
    case "22007":
    case "22008":
    case "22003":
    case "22023":
    case "2201B":
    case "42804":
      return "VAL_007";
    case "42501":
      return status === 401 ? "AUTH_004" : "AUTH_012";
    case "PGRST301":
    case "PGRST303":
      return message && /expired/i.test(message) ? "AUTH_003" : "AUTH_005";
    case "PGRST302":
      return "AUTH_004";
    case "PGRST202":
    case "PGRST205":
    case "42883":
    case "42P01":
      return "REQ_002";
    case "PGRST116":
      return "REQ_002";
    case "57014":
    case "40001":
    case "40P01":
    case "55P03":
      return "SYS_002";
  }
  if (/^(08|53|57)/.test(sqlstate)) return "SYS_002";
  if (/^22/.test(sqlstate)) return "VAL_007";
  if (/^23/.test(sqlstate)) return "VAL_001";
  if (/^PGRST1/.test(sqlstate)) return "VAL_001";
  return "SYS_001";
}

function isNetworkFailure(err: object, status: number | null): boolean {
  const name = text(field(err, "name")) ?? "";
  const message = text(field(err, "message")) ?? "";
  if (name === "AuthRetryableFetchError" || name === "FetchError" || name === "AbortError") return true;
  if (err instanceof TypeError) return true; // fetch rejects with a TypeError when nothing answered
  if (status === 0) return true;
  return /^(TypeError|FetchError)\b|fetch failed|Failed to fetch|NetworkError|Load failed|ECONNREFUSED|ETIMEDOUT|ENOTFOUND/.test(
    message,
  );
}

export function toKwq8Error(err: unknown, context: { status?: number } = {}): Kwq8Error {
  if (err === null || err === undefined) return make("SYS_001", err);
  if (typeof err === "string") return make(isKwq8ErrorCode(err) ? err : "SYS_001", err);
  if (typeof err !== "object") return make("SYS_001", err);

  // A Zod failure of a shared schema: the first issue's message is the database's code.
  const issues = field(err, "issues");
  if (Array.isArray(issues) && field(err, "name") === "ZodError") {
    const first = issues[0] as { message?: unknown; path?: unknown[] } | undefined;
    const path = Array.isArray(first?.path) ? first.path.join(".") : null;
    return make(isKwq8ErrorCode(first?.message) ? first.message : "VAL_001", err, path ? `invalid ${path}` : null);
  }

  const rawStatus = field(err, "status") ?? context.status;
  const status = typeof rawStatus === "number" ? rawStatus : null;
  const code = text(field(err, "code"));
  const message = text(field(err, "message"));
  const details = text(field(err, "details"));
  const hint = text(field(err, "hint"));

  // Our own codes: PostgREST bodies of raise_error, the services' bodies, results' error fields.
  if (isKwq8ErrorCode(code)) return make(code, err, details, hint);

  // Supabase Auth: AuthApiError and friends carry `code` (the documented error code) and `status`.
  const isAuth = field(err, "__isAuthError") === true || /^Auth/.test(text(field(err, "name")) ?? "");
  if (isAuth) {
    if (code && AUTH_ERROR_CODES[code]) return make(AUTH_ERROR_CODES[code], err, message);
    const byName = AUTH_CLIENT_ERRORS[text(field(err, "name")) ?? ""];
    if (byName) return make(byName, err, message);
    if (isNetworkFailure(err, status)) return make("NET_001", err, message);
    if (status === 429) return make("RATE_001", err, message);
    if (message && /invalid login credentials/i.test(message)) return make("AUTH_002", err, message);
    if (message && /already (registered|exists)/i.test(message)) return make("AUTH_001", err, message);
    if (message && /(refresh token|session).*(not found|expired|missing)|jwt expired/i.test(message)) {
      return make("AUTH_003", err, message);
    }
    return make(status !== null && status >= 500 ? "SYS_002" : "AUTH_015", err, message);
  }

  if (status === 429) return make("RATE_001", err, message);

  // A catalogued code inside the text of an error raised as `raise exception 'CREDIT_001: ...'`.
  for (const source of [message, details, hint]) {
    const match = source ? CODE_PATTERN.exec(source) : null;
    if (match && isKwq8ErrorCode(match[1])) return make(match[1], err, details ?? message, hint);
  }

  if (code && (/^[0-9A-Z]{5}$/.test(code) || /^PGRST[0-9]{3}$/.test(code))) {
    return make(fromSqlState(code, status, message, details), err, message, hint);
  }
  if (isNetworkFailure(err, status)) return make("NET_001", err, message);
  if (status !== null) {
    if (status === 401) return make("AUTH_004", err, message);
    if (status === 403) return make("AUTH_012", err, message);
    if (status === 404) return make("REQ_002", err, message);
    if (status === 413) return make("REQ_001", err, message);
    if (status >= 500) return make(status === 503 ? "SYS_002" : "SYS_001", err, message);
    if (status >= 400) return make("VAL_001", err, message);
  }
  return make("SYS_001", err, message);
}
