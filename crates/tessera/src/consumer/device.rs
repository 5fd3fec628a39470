//! `tessera login --device`: the device authorization grant (RFC 8628) for a machine without
//! a browser. Prints the verification URL and the user code (and a QR code of the URL with the
//! code filled in, when stdout is a terminal), then polls until the user answers elsewhere.

use std::io::IsTerminal;

use anyhow::Context;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use tessera_client::{ClientSettings, TokenResponse, TokenSource, device_authorization_endpoint};

/// Runs the device login and stores the tokens; returns the token response.
pub(super) async fn login(
    source: &TokenSource,
    settings: ClientSettings,
    issuer: &str,
) -> anyhow::Result<TokenResponse> {
    let endpoint = device_authorization_endpoint(source.http_client(), issuer).await?;
    let login = source.device_login(settings, &endpoint).await.context("cannot start the device login")?;
    eprintln!("To log in, visit {}", login.verification_uri());
    eprintln!("and enter the code {}", login.user_code());
    if let Some(complete) = login.verification_uri_complete()
        && std::io::stdout().is_terminal()
    {
        // On stdout, where a terminal shows it; a script capturing stdout gets nothing extra.
        if let Ok(code) = QrCode::new(complete.as_bytes()) {
            let picture = code.render::<Dense1x2>().dark_color(Dense1x2::Light).light_color(Dense1x2::Dark).build();
            println!("{picture}");
        }
        eprintln!("or scan the QR code to open {complete}");
    }
    let minutes = login.expires_in().as_secs().div_ceil(60);
    eprintln!("Waiting for the approval (the code expires in {minutes} minutes) …");
    login.finish().await.context("login failed")
}
