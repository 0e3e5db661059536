"""Supabase Auth's documented error codes (supabase/auth, internal/api/apierrors/errorcode.go,
which supabase-js passes on as AuthError.code) and the KWq8 code each one becomes."""

from __future__ import annotations

_BY_CODE = {
    "AUTH_001": "email_exists phone_exists user_already_exists identity_already_exists conflict",
    "AUTH_002": "invalid_credentials current_password_invalid",
    "AUTH_003": (
        "session_expired session_not_found refresh_token_not_found refresh_token_already_used "
        "flow_state_expired oauth_client_state_expired saml_relay_state_expired"
    ),
    "AUTH_004": "no_authorization",
    "AUTH_005": "bad_jwt unexpected_audience",
    "AUTH_007": "email_not_confirmed phone_not_confirmed provider_email_needs_verification",
    "AUTH_008": "weak_password same_password",
    "AUTH_009": "user_not_found identity_not_found invite_not_found",
    "AUTH_010": (
        "signup_disabled email_provider_disabled phone_provider_disabled provider_disabled "
        "anonymous_provider_disabled saml_provider_disabled sso_provider_disabled manual_linking_disabled "
        "otp_disabled web3_provider_disabled oauth_provider_not_supported email_address_not_authorized "
        "mfa_phone_enroll_not_enabled mfa_phone_verify_not_enabled mfa_totp_enroll_not_enabled "
        "mfa_totp_verify_not_enabled mfa_webauthn_enroll_not_enabled mfa_webauthn_verify_not_enabled "
        "passkey_disabled feature_disabled oauth_dynamic_client_registration_disabled user_sso_managed"
    ),
    "AUTH_011": (
        "otp_expired flow_state_not_found flow_state_already_used bad_code_verifier bad_oauth_state "
        "bad_oauth_callback oauth_client_state_not_found oauth_invalid_state saml_relay_state_not_found "
        "mfa_challenge_expired webauthn_challenge_not_found webauthn_challenge_expired"
    ),
    "AUTH_012": "not_admin single_identity_not_deletable email_conflict_identity_not_deletable",
    "AUTH_013": (
        "insufficient_aal reauthentication_needed reauthentication_not_valid current_password_required "
        "mfa_verification_failed mfa_verification_rejected mfa_ip_address_mismatch mfa_factor_not_found "
        "webauthn_verification_failed webauthn_credential_not_found"
    ),
    "AUTH_014": "user_banned",
    "AUTH_015": (
        "unknown unexpected_failure captcha_failed too_many_enrolled_mfa_factors mfa_factor_name_conflict "
        "mfa_verified_factor_exists saml_idp_not_found saml_assertion_no_user_id saml_assertion_no_email "
        "sso_provider_not_found saml_metadata_fetch_failed saml_idp_already_exists sso_domain_already_exists "
        "saml_entity_id_mismatch web3_unsupported_chain oauth_client_not_found oauth_authorization_not_found "
        "oauth_consent_not_found custom_provider_not_found over_custom_provider_quota too_many_passkeys "
        "webauthn_credential_exists"
    ),
    "VAL_001": "validation_failed bad_json email_address_not_provided",
    "VAL_004": "email_address_invalid",
    "RATE_001": "over_request_rate_limit over_email_send_rate_limit over_sms_send_rate_limit",
    "REQ_001": "request_entity_too_large",
    "SYS_002": (
        "sms_send_failed hook_timeout hook_timeout_after_retry hook_payload_over_size_limit "
        "hook_payload_invalid_content_type request_timeout"
    ),
}

AUTH_ERROR_CODES: dict[str, str] = {auth: code for code, names in _BY_CODE.items() for auth in names.split()}
