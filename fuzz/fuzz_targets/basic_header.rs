//! Fuzz target: `Authorization: Basic` decoding (RFC 6749 §2.3.1, RFC 7617). Never a panic;
//! a refusal is `invalid_client`; what decodes has a non-empty id and no NUL, and survives
//! re-encoding: encoding the decoded pair again decodes to the same pair.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use tessera_core::request::parse_basic;
use tessera_proto::ErrorCode;

/// `application/x-www-form-urlencoded` encoding of one component, every byte but
/// unreserved ones escaped.
fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse_basic(text) {
        Ok((id, secret)) => {
            assert!(!id.is_empty() && !id.contains('\0') && !secret.contains('\0'));
            let again = format!("Basic {}", STANDARD.encode(format!("{}:{}", form_encode(&id), form_encode(&secret))));
            assert_eq!(parse_basic(&again), Ok((id, secret)));
        }
        Err(error) => assert_eq!(error.code, ErrorCode::InvalidClient),
    }
});
