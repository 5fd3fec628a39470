//! Unit tests of token-request parsing: Basic decoding, parameter collection, and which parameter names an error may repeat.

use super::*;

#[test]
fn basic_decoding_is_form_urlencoded() {
    // "my%20app:s%3Ae+cret" → id "my app", secret "s:e cret"
    let header = format!("Basic {}", STANDARD.encode("my%20app:s%3Ae+cret"));
    assert_eq!(parse_basic(&header), Ok(("my app".into(), "s:e cret".into())));
    assert!(parse_basic("Bearer abc").is_err());
    assert!(parse_basic("Basic !!!").is_err());
    assert!(parse_basic(&format!("Basic {}", STANDARD.encode("no-colon"))).is_err());
}

#[test]
fn grant_type_names_round_trip_and_sort_by_name() {
    for grant in GrantType::ALL {
        assert_eq!(GrantType::parse(grant.as_str()), Some(grant));
    }
    let mut names: Vec<&str> = GrantType::ALL.iter().map(|grant| grant.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, GrantType::ALL.map(GrantType::as_str));
    assert_eq!(GrantType::parse("implicit"), None);
}

#[test]
fn unknown_token_type_hint_is_ignored() {
    assert_eq!(TokenTypeHint::parse("refresh_token"), Some(TokenTypeHint::RefreshToken));
    assert_eq!(TokenTypeHint::parse("access_token"), Some(TokenTypeHint::AccessToken));
    assert_eq!(TokenTypeHint::parse("id_token"), None);
}

#[test]
fn repeated_parameter_is_refused() {
    let pairs = vec![("a".to_string(), "1".to_string()), ("a".to_string(), "2".to_string())];
    assert_eq!(collect_parameters(pairs).map_err(|e| e.code), Err(ErrorCode::InvalidRequest));
}

#[test]
fn descriptions_name_known_parameters_only() {
    let repeated = |name: &str| {
        let pairs = vec![(name.to_string(), "1".to_string()), (name.to_string(), "2".to_string())];
        collect_parameters(pairs).map(|_| ()).unwrap_err().description
    };
    assert_eq!(repeated("scope"), "parameter `scope` was sent more than once");
    assert_eq!(repeated("tsr_secret"), "a parameter was sent more than once");
    let nul = collect_parameters(vec![("tsr_\0".to_string(), "1".to_string())]).unwrap_err();
    assert!(!nul.description.contains("tsr"), "{}", nul.description);
}

#[test]
fn empty_parameter_is_omitted() {
    let pairs = vec![("scope".to_string(), String::new())];
    assert_eq!(collect_parameters(pairs).map(|p| p.len()), Ok(0));
}
