"""types/errors.ts: the error catalogue, the constraint and Auth maps, and toKwq8Error."""

from __future__ import annotations

from pathlib import Path

from kwq8.contract.auth_codes import AUTH_ERROR_CODES
from kwq8.contract.catalog import Catalog
from kwq8.contract.zod import HEADER, ts_string

TEMPLATE = Path(__file__).with_name("to_kwq8_error.ts")


def render(catalog: Catalog) -> str:
    known = {c.code for c in catalog.codes}
    missing = sorted({*AUTH_ERROR_CODES.values(), *catalog.constraint_codes.values()} - known)
    if missing:
        raise ValueError(f"codes used by the maps but not in public.error_codes: {', '.join(missing)}")
    out = [HEADER, "\n// Every code of public.error_codes.\n"]
    out.append("export type Kwq8ErrorCode =\n" + "\n".join(f"  | {ts_string(c.code)}" for c in catalog.codes) + ";\n\n")
    out.append(
        "export interface Kwq8ErrorEntry {\n  http_status: number;\n  message_ar: string;\n  message_en: string;\n}\n\n"
    )
    out.append("export const ERROR_CODES: Record<Kwq8ErrorCode, Kwq8ErrorEntry> = {\n")
    for c in catalog.codes:
        out.append(
            f"  {c.code}: {{ http_status: {c.http_status}, message_ar: {ts_string(c.message_ar)}, "
            f"message_en: {ts_string(c.message_en)} }},\n"
        )
    out.append("};\n\n// The code of each constraint of the exposed tables (private.constraint_error_codes).\n")
    out.append("export const CONSTRAINT_ERROR_CODES: Record<string, Kwq8ErrorCode> = {\n")
    out += [f"  {name}: {ts_string(code)},\n" for name, code in sorted(catalog.constraint_codes.items())]
    out.append("};\n\n// Supabase Auth's error codes (AuthError.code).\n")
    out.append("export const AUTH_ERROR_CODES: Record<string, Kwq8ErrorCode> = {\n")
    out += [f"  {name}: {ts_string(code)},\n" for name, code in sorted(AUTH_ERROR_CODES.items())]
    out.append("};\n\n")
    out.append(TEMPLATE.read_text())
    return "".join(out)
