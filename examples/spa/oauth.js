// The OAuth 2.0 / OpenID Connect side of the example single-page app: discovery, PKCE (S256,
// WebCrypto), DPoP (RFC 9449: a non-extractable WebCrypto key, proofs, server nonces), the token
// endpoint (code and refresh grants), revocation and API calls. It keeps the DPoP key and the
// servers' nonces; app.js keeps the tokens.

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

// ---- DPoP (RFC 9449): a key the page can sign with but never read -------------------------
//
// One ECDSA P-256 key pair per sign-in, made by WebCrypto with `extractable: false`: the page
// (and any script injected into it) can ask the browser to sign with the private key, but can
// never copy it out, so tokens stolen from this page are useless elsewhere. The pair lives in
// IndexedDB (CryptoKeys are stored as keys, still non-extractable), because the sign-in leaves
// the page for Tessera and back and the code is bound to the key (`dpop_jkt`); logout deletes it.

const KEY_DB = 'tessera-spa-dpop';
const KEY_STORE = 'keys';
const KEY_ID = 'current';

/** The current key: { privateKey, jwk (public), thumbprint }, once loaded or made. */
let dpopKey;
/** The last `DPoP-Nonce` each server (origin) sent (RFC 9449 §8, §9). */
const nonces = new Map();

/** Runs `use(objectStore)` in one IndexedDB transaction; the result of its request. */
function keyStore(mode, use) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(KEY_DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(KEY_STORE);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const transaction = db.transaction(KEY_STORE, mode);
      const request = use(transaction.objectStore(KEY_STORE));
      transaction.oncomplete = () => { db.close(); resolve(request.result); };
      transaction.onerror = transaction.onabort = () => { db.close(); reject(transaction.error); };
    };
  });
}

async function sha256(text) {
  return crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
}

/** The public JWK and its RFC 7638 thumbprint: SHA-256 of the required members, in
 * lexicographic order, no whitespace (what Tessera puts in `cnf.jkt`). */
async function describeKey({ privateKey, publicKey }) {
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey); // public keys always export
  const thumbprint = base64url(await sha256(JSON.stringify({ crv, kty, x, y })));
  return { privateKey, jwk: { kty, crv, x, y }, thumbprint };
}

/** A new key for a new sign-in, replacing any earlier one. */
export async function newDpopKey() {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  await keyStore('readwrite', (store) => store.put({ privateKey: pair.privateKey, publicKey: pair.publicKey }, KEY_ID));
  dpopKey = await describeKey(pair);
  return dpopKey;
}

/** The key of this sign-in (from IndexedDB after the redirect), or undefined. */
export async function currentDpopKey() {
  if (dpopKey === undefined) {
    const pair = await keyStore('readonly', (store) => store.get(KEY_ID));
    if (pair) dpopKey = await describeKey(pair);
  }
  return dpopKey;
}

/** Logout: the key is deleted; tokens bound to it can never be used again, by anyone. */
export async function forgetDpopKey() {
  dpopKey = undefined;
  nonces.clear();
  await keyStore('readwrite', (store) => store.delete(KEY_ID));
}

const base64urlJson = (value) => base64url(new TextEncoder().encode(JSON.stringify(value)));

/** The `DPoP` header for a request to `url` (RFC 9449 §4.2), proving the key; with
 * `accessToken`, the proof also covers that token (`ath`), as a resource requires. */
export async function proofHeaders(method, url, accessToken) {
  const key = await currentDpopKey();
  if (!key) throw new OAuthError('dpop_key_missing', 'no DPoP key for this sign-in: sign in again');
  const target = new URL(url);
  const claims = {
    jti: randomString(16),
    htm: method,
    htu: `${target.origin}${target.pathname}`, // without query and fragment
    iat: Math.floor(Date.now() / 1000),
  };
  if (accessToken !== undefined) claims.ath = base64url(await sha256(accessToken));
  if (nonces.has(target.origin)) claims.nonce = nonces.get(target.origin);
  const input = `${base64urlJson({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk })}.${base64urlJson(claims)}`;
  // WebCrypto's ECDSA signature is r || s, 32 bytes each: already JWS's form (RFC 7518 §3.4).
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, new TextEncoder().encode(input),
  );
  return { DPoP: `${input}.${base64url(signature)}` };
}

/** Whether `response` asks for the server's nonce: `use_dpop_nonce` from the token endpoint
 * (RFC 9449 §8) or in a resource's `WWW-Authenticate: DPoP` challenge (§9). */
async function asksForNonce(response) {
  if (response.status === 401) return /error="use_dpop_nonce"/.test(response.headers.get('WWW-Authenticate') ?? '');
  if (response.status !== 400) return false;
  const body = await response.clone().json().catch(() => ({}));
  return body.error === 'use_dpop_nonce';
}

/** `fetch` with a fresh proof; remembers the server's `DPoP-Nonce`, and when the server asks
 * for it, retries once with a new proof carrying it. */
async function fetchWithProof(method, url, init, accessToken) {
  const send = async () => {
    const headers = { ...init.headers, ...(await proofHeaders(method, url, accessToken)) };
    const response = await fetch(url, { ...init, method, headers });
    const nonce = response.headers.get('DPoP-Nonce');
    if (nonce) nonces.set(new URL(url).origin, nonce);
    return response;
  };
  const response = await send();
  return response.headers.has('DPoP-Nonce') && (await asksForNonce(response)) ? send() : response;
}

// ---- endpoints ---------------------------------------------------------------------------

/** POSTs a form to the token endpoint (RFC 6749 §3.2): a public client, so `client_id` only,
 * with a DPoP proof, so the tokens are bound to this sign-in's key (RFC 9449 §5). */
export async function tokenRequest(metadata, params) {
  const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
  const init = { headers, body: new URLSearchParams(params) };
  const response = await fetchWithProof('POST', metadata.token_endpoint, init);
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

/** Whether tokens are DPoP-bound (RFC 9449 §5: `token_type` is compared case-insensitively). */
export const isDpop = (tokens) => tokens.token_type?.toLowerCase() === 'dpop';

/** A GET to a protected resource with the access token: `Authorization: DPoP …` with a proof
 * for this request and token (RFC 9449 §7.1), or `Bearer …` (RFC 6750 §2.1) for unbound tokens. */
export async function callApi(url, tokens) {
  const init = { headers: { Authorization: `${isDpop(tokens) ? 'DPoP' : 'Bearer'} ${tokens.access_token}` } };
  const response = isDpop(tokens)
    ? await fetchWithProof('GET', url, init, tokens.access_token)
    : await fetch(url, init);
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
