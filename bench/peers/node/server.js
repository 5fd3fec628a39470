// The Node.js peer for bench/compare.sh: @node-oauth/oauth2-server 5 on Express, in-memory model.
//
// Not a product, just a small, fair peer:
// - grants: password, refresh_token (rotation on: alwaysIssueNewRefreshToken, and the model's
//   revokeToken deletes the presented refresh token, so each one works once), client_credentials;
// - client authentication in the body (client_secret_post) or Basic;
// - GET /me validates a bearer token (the library's authenticate), GET /healthz answers at once.
//
// Everything lives in this process's memory (Maps): no durability, no database round trip.
// Passwords are checked with scrypt (node:crypto), the user's hash made at start-up.
//
// Environment: PORT, PEER_CLIENT_ID, PEER_CLIENT_SECRET, PEER_USERNAME, PEER_PASSWORD.
'use strict';

const crypto = require('node:crypto');
const util = require('node:util');
const express = require('express');
const OAuth2Server = require('@node-oauth/oauth2-server');
const { Request, Response } = OAuth2Server;

const scrypt = util.promisify(crypto.scrypt);
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const client = {
  id: env('PEER_CLIENT_ID'),
  secret: env('PEER_CLIENT_SECRET'),
  grants: ['password', 'refresh_token', 'client_credentials'],
  redirectUris: [],
};
const salt = crypto.randomBytes(16);
const user = { id: '1', username: env('PEER_USERNAME'), hash: crypto.scryptSync(env('PEER_PASSWORD'), salt, 32) };
const serviceUser = { id: `client:${client.id}` }; // the "user" of a client_credentials token

const accessTokens = new Map();
const refreshTokens = new Map();

const safeEqual = (a, b) => {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
};

const model = {
  async getClient(clientId, clientSecret) {
    if (clientId !== client.id) return null;
    if (clientSecret !== null && clientSecret !== undefined && !safeEqual(clientSecret, client.secret)) return null;
    return client;
  },
  async getUser(username, password) {
    if (username !== user.username) return null;
    const hash = await scrypt(password, salt, 32);
    return crypto.timingSafeEqual(hash, user.hash) ? user : null;
  },
  async getUserFromClient(c) {
    return c.id === client.id ? serviceUser : null;
  },
  async saveToken(token, c, u) {
    const saved = { ...token, client: c, user: u };
    accessTokens.set(token.accessToken, saved);
    if (token.refreshToken) refreshTokens.set(token.refreshToken, saved);
    return saved;
  },
  async getAccessToken(accessToken) {
    return accessTokens.get(accessToken) || null;
  },
  async getRefreshToken(refreshToken) {
    return refreshTokens.get(refreshToken) || null;
  },
  async revokeToken(token) {
    // Rotation: the presented refresh token works once (delete is the compare-and-set here:
    // this process is single-threaded, so two concurrent uses cannot both see it).
    return refreshTokens.delete(token.refreshToken);
  },
};

const oauth = new OAuth2Server({
  model,
  accessTokenLifetime: 3600,
  refreshTokenLifetime: 30 * 24 * 3600,
  alwaysIssueNewRefreshToken: true,
});

function send(res, response) {
  res.set(response.headers);
  res.status(response.status || 200).json(response.body);
}

function sendError(res, error) {
  res.status(error.code || 500).json({ error: error.name || 'server_error', error_description: error.message });
}

const app = express();
app.disable('x-powered-by');
app.disable('etag');

app.post('/oauth/token', express.urlencoded({ extended: false }), async (req, res) => {
  const response = new Response(res);
  try {
    await oauth.token(new Request(req), response, { alwaysIssueNewRefreshToken: true });
    send(res, response);
  } catch (error) {
    sendError(res, error);
  }
});

app.get('/me', async (req, res) => {
  try {
    const token = await oauth.authenticate(new Request(req), new Response(res));
    res.json({ sub: token.user.id, username: token.user.username });
  } catch (error) {
    sendError(res, error);
  }
});

app.get('/healthz', (req, res) => res.json({ status: 'ok' }));

const server = app.listen(Number(env('PORT')), '127.0.0.1', () => {
  console.log(`node peer listening on http://127.0.0.1:${server.address().port}`);
});
server.keepAliveTimeout = 65000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
