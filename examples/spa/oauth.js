// The OAuth 2.0 / OpenID Connect side of the example single-page app: discovery, PKCE (S256,
// WebCrypto), the token endpoint (code and refresh grants), revocation, API calls, and the one
// place where DPoP proofs will be added. No state of its own: app.js keeps the tokens.

/** base64url without padding (RFC 7636 Appendix A). */
export function base64url(bytes) {
  let text = '';
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `bytes` random bytes from the browser's CSPRNG, base64url. */
export function randomString(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A PKCE pair (RFC 7636 §4.1, §4.2): a 256-bit verifier and its S256 challenge. */
export async function pkce() {
  const verifier = randomString(32);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return { verifier, challenge: base64url(digest) };
}

/** An OAuth error answer (RFC 6749 §5.2, RFC 6750 §3.1), or a failure to reach the server. */
export class OAuthError extends Error {
  constructor(error, description, status) {
    super(description ? `${error}: ${description}` : error);
    this.error = error;
    this.status = status;
  }
}

/** OpenID Connect Discovery: the issuer's metadata (served with `Access-Control-Allow-Origin: *`). */
export async function discover(issuer) {
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!response.ok) throw new OAuthError('discovery_failed', `HTTP ${response.status}`, response.status);
  const metadata = await response.json();
  // RFC 8414 §3.3: the document must name the issuer we asked.
  if (metadata.issuer !== issuer) throw new OAuthError('discovery_failed', `issuer is ${metadata.issuer}`);
  return metadata;
}

// ---- DPoP (RFC 9449): the hook -------------------------------------------------------------
//
// Not done yet, on purpose: the server does not accept DPoP proofs yet, and a proof nobody
// checks would only pretend. When it does, this is the only function to fill in:
//
//   1. Once per sign-in, make a key pair the page can sign with but never read:
//        crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
//      (`extractable: false`: even a script injected into the page cannot copy the private key
//      out; keep the CryptoKeyPair in IndexedDB if it must survive a reload).
//   2. Return { DPoP: proof }, proof being a JWT with header
//        { typ: 'dpop+jwt', alg: 'ES256', jwk: <the public key, crypto.subtle.exportKey('jwk')> }
//      and claims { jti: randomString(16), htm: method, htu: url without query and fragment,
//      iat: now in seconds, ath: base64url(SHA-256(accessToken)) when an access token is sent,
//      nonce: the last `DPoP-Nonce` response header, if the server sent one },
//      signed with crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, …).
//   3. On `use_dpop_nonce` (token endpoint) or `WWW-Authenticate: DPoP error="use_dpop_nonce"`
//      (API), remember the `DPoP-Nonce` header and retry once; CORS already exposes both headers.
//
// The token endpoint will then answer `token_type: "DPoP"`, and `callApi` below sends
// `Authorization: DPoP …` by itself, since it uses the token type it was given.

/** Extra headers for a request to `url`: the DPoP proof, once the server supports DPoP. */
export async function proofHeaders(_method, _url, _accessToken) {
  return {};
}

// ---- endpoints ---------------------------------------------------------------------------

/** POSTs a form to the token endpoint (RFC 6749 §3.2): a public client, so `client_id` only. */
export async function tokenRequest(metadata, params) {
  const url = metadata.token_endpoint;
  const headers = { 'Content-Type': 'application/x-www-form-urlencoded', ...(await proofHeaders('POST', url)) };
  const response = await fetch(url, { method: 'POST', headers, body: new URLSearchParams(params) });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new OAuthError(body.error ?? 'server_error', body.error_description, response.status);
  return body;
}

/** RFC 7009: revokes a token; revoking a refresh token ends its whole family at Tessera. */
export async function revoke(metadata, clientId, token, hint) {
  const params = { token, token_type_hint: hint, client_id: clientId };
  const response = await fetch(metadata.revocation_endpoint, { method: 'POST', body: new URLSearchParams(params) });
  if (!response.ok) throw new OAuthError('revocation_failed', `HTTP ${response.status}`, response.status);
}

/** A GET to a protected resource with the access token (RFC 6750 §2.1, or DPoP later). */
export async function callApi(url, tokens) {
  const headers = {
    Authorization: `${tokens.token_type ?? 'Bearer'} ${tokens.access_token}`,
    ...(await proofHeaders('GET', url, tokens.access_token)),
  };
  const response = await fetch(url, { headers });
  if (!response.ok) {
    // The reason is in WWW-Authenticate, which Tessera's CORS lets the page read.
    throw new OAuthError('api_error', response.headers.get('WWW-Authenticate') ?? '', response.status);
  }
  return response.json();
}

/** The claims of a JWT, unverified: only for an id token just received from the token
 * endpoint over a connection to the issuer (OpenID Connect Core §3.1.3.7 item 6). */
export function jwtClaims(jwt) {
  const payload = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  const json = new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0)));
  return JSON.parse(json);
}

/** OpenID Connect Core §3.1.3.7: the id token is for us, from the issuer, fresh, and answers our nonce. */
export function checkIdToken(idToken, { issuer, clientId, nonce }) {
  const claims = jwtClaims(idToken);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const problems = [
    [claims.iss !== issuer, `iss is ${claims.iss}`],
    [!audiences.includes(clientId), 'aud does not name this client'],
    [claims.exp * 1000 < Date.now(), 'expired'],
    [nonce !== undefined && claims.nonce !== nonce, 'nonce does not match'],
  ];
  const problem = problems.find(([failed]) => failed);
  if (problem) throw new OAuthError('invalid_id_token', problem[1]);
  return claims;
}
