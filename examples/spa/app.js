// The example single-page app's page logic: sign in (authorization code + PKCE), show the user,
// refresh, call the API, log out. Protocol details are in oauth.js.
//
// Where tokens live: in this module's memory only (`session` below), never in localStorage or
// sessionStorage, where any script on the origin could read them at leisure and they would
// outlive the tab. The price: a reload signs in again (quickly: Tessera remembers the browser
// session and the consent). The one thing kept in sessionStorage is the pending sign-in (PKCE
// verifier, state, nonce) across the redirect to Tessera and back, removed on return; it is
// useless without the code, which only comes back to this page.
//
// The tokens are DPoP-bound (RFC 9449): every token request and API call carries a proof signed
// by a key the page cannot read (oauth.js), so a token copied out of this page is refused
// anywhere else. The code is bound to that key too (`dpop_jkt`).

import {
  OAuthError, callApi, checkIdToken, currentDpopKey, discover, forgetDpopKey, isDpop, jwtClaims, newDpopKey, pkce,
  randomString, revoke, tokenRequest,
} from './oauth.js';

const PENDING_SIGN_IN = 'tessera-spa:pending-sign-in';
const PENDING_LOGOUT = 'tessera-spa:pending-logout';
/** This page is its own redirect URI and post-logout redirect URI. */
const HERE = `${location.origin}${location.pathname}`;

let config;      // { issuer, client_id, scope } from config.json
let metadata;    // the issuer's discovery document
let session;     // { tokens, idClaims } while signed in; memory only
let counts = { refreshes: 0, apiCalls: 0 };

const $ = (id) => document.getElementById(id);

function show(view) {
  $('signed-in-view').hidden = view !== 'in';
  $('signed-out-view').hidden = view !== 'out';
  $('status').textContent = view === 'in' ? 'Signed in.' : 'Not signed in.';
}

function fail(error) {
  console.error(error);
  $('error').hidden = false;
  // A fetch refused by CORS is indistinguishable from a network failure (a TypeError).
  const hint = error instanceof TypeError ? ' (server unreachable, or this origin not registered with --allowed-origin)' : '';
  $('error').textContent = error instanceof OAuthError ? error.message : `Unexpected error: ${error}${hint}`;
}

function setCount(id, value) {
  $(id).textContent = String(value);
  $(id).dataset.count = String(value);
}

async function renderTokens() {
  const claims = jwtClaims(session.tokens.access_token);
  const expires = new Date(claims.exp * 1000).toLocaleTimeString();
  // Never shown whole: a token on screen is a token in a screenshot.
  $('token-info').textContent = `expires ${expires}, jti ${claims.jti.slice(0, 8)}…`;
  $('token-type').textContent = session.tokens.token_type;
  $('token-type').dataset.tokenType = session.tokens.token_type;
  // The key's thumbprint is public (it is in every proof); the private key cannot be shown.
  const key = await currentDpopKey();
  $('dpop-jkt').textContent = key?.thumbprint ?? 'none';
  const bound = isDpop(session.tokens) && key !== undefined && claims.cnf?.jkt === key.thumbprint;
  $('binding').textContent = bound
    ? 'bound to this key: the access token\'s cnf.jkt is its thumbprint'
    : 'not bound to a key: a bearer token, usable by whoever holds it';
  $('binding').dataset.bound = String(bound);
}

/** Step 1: off to Tessera's authorization endpoint (a top-level navigation, not a fetch), with
 * a new DPoP key whose thumbprint binds the code to it (RFC 9449 §10 `dpop_jkt`). */
async function signIn() {
  const key = await newDpopKey();
  const { verifier, challenge } = await pkce();
  const pending = { verifier, state: randomString(16), nonce: randomString(16) };
  sessionStorage.setItem(PENDING_SIGN_IN, JSON.stringify(pending));
  const url = new URL(metadata.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.client_id,
    redirect_uri: HERE,
    scope: config.scope,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    dpop_jkt: key.thumbprint,
  }).toString();
  location.assign(url.toString());
}

/** Step 2: back from Tessera with a code (or an error): check it is the answer to our request. */
async function completeSignIn(params) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING_SIGN_IN) ?? 'null');
  sessionStorage.removeItem(PENDING_SIGN_IN);
  history.replaceState(null, '', location.pathname); // the code leaves the address bar and history
  if (!pending || params.get('state') !== pending.state) throw new OAuthError('invalid_state', 'not our sign-in');
  // RFC 9207: the answer says which issuer sent it (Tessera always does).
  if (params.get('iss') !== metadata.issuer) throw new OAuthError('invalid_issuer', `iss is ${params.get('iss')}`);
  if (params.has('error')) throw new OAuthError(params.get('error'), params.get('error_description'));
  const tokens = await tokenRequest(metadata, {
    grant_type: 'authorization_code',
    code: params.get('code'),
    redirect_uri: HERE,
    client_id: config.client_id,
    code_verifier: pending.verifier,
  });
  const idClaims = checkIdToken(tokens.id_token, {
    issuer: metadata.issuer, clientId: config.client_id, nonce: pending.nonce,
  });
  session = { tokens, idClaims };
}

/** A new access token (and, rotated, a new refresh token: the old one is spent). */
async function refresh() {
  const tokens = await tokenRequest(metadata, {
    grant_type: 'refresh_token',
    refresh_token: session.tokens.refresh_token,
    client_id: config.client_id,
  });
  if (tokens.id_token) checkIdToken(tokens.id_token, { issuer: metadata.issuer, clientId: config.client_id });
  session.tokens = { ...session.tokens, ...tokens };
  setCount('refreshes', ++counts.refreshes);
  await renderTokens();
}

/** The API, refreshing once if the access token has expired or been refused. */
async function loadUser() {
  const url = `${config.issuer}/api/1.0/users/me`;
  let user;
  try {
    user = await callApi(url, session.tokens);
  } catch (error) {
    if (!(error instanceof OAuthError) || error.status !== 401) throw error;
    await refresh();
    user = await callApi(url, session.tokens);
  }
  $('username').textContent = user.username;
  $('user').textContent = JSON.stringify(user, null, 2);
  setCount('api-calls', ++counts.apiCalls);
}

/** Revoke the refresh token (its family, with every access token of it), forget the tokens and
 * delete the DPoP key, then RP-initiated logout at Tessera, which ends the browser session and
 * sends us back. */
async function logOut() {
  const { tokens } = session;
  session = undefined;
  await revoke(metadata, config.client_id, tokens.refresh_token, 'refresh_token');
  await forgetDpopKey();
  const state = randomString(16);
  sessionStorage.setItem(PENDING_LOGOUT, state);
  const url = new URL(metadata.end_session_endpoint);
  url.search = new URLSearchParams({
    id_token_hint: tokens.id_token,
    client_id: config.client_id,
    post_logout_redirect_uri: HERE,
    state,
  }).toString();
  location.assign(url.toString());
}

function button(id, action) {
  $(id).addEventListener('click', async () => {
    $('error').hidden = true;
    $(id).disabled = true;
    try {
      await action();
    } catch (error) {
      fail(error);
    } finally {
      $(id).disabled = false;
    }
  });
}

async function start() {
  config = await (await fetch('config.json')).json();
  metadata = await discover(config.issuer);
  button('signin', signIn);
  button('refresh', refresh);
  button('call-api', loadUser);
  button('logout', logOut);
  const params = new URLSearchParams(location.search);
  if (params.has('code') || params.has('error')) {
    await completeSignIn(params);
    show('in');
    await renderTokens();
    await loadUser();
    return;
  }
  const loggedOut = sessionStorage.getItem(PENDING_LOGOUT);
  if (loggedOut !== null) {
    sessionStorage.removeItem(PENDING_LOGOUT);
    history.replaceState(null, '', location.pathname);
    $('signed-out').hidden = params.get('state') !== loggedOut;
  }
  show('out');
}

start().catch((error) => {
  show('out');
  fail(error);
});
