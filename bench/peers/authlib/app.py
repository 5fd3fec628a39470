"""The Authlib peer for bench/compare.sh: Authlib's OAuth 2.0 server on Flask, SQLite storage.

Run under gunicorn (2 workers) by bench/compare.py; not a product, just a fair, small peer:
- grants: password, refresh_token (rotation on: every refresh issues a new refresh token and
  revokes the presented one by compare-and-set, in the same transaction as the insert of the
  new token), client_credentials;
- client authentication client_secret_post or client_secret_basic;
- GET /me validates a bearer token (Authlib's ResourceProtector), GET /healthz runs SELECT 1.

SQLite in WAL mode with synchronous=FULL (what Tessera runs with), one connection per worker.
Passwords are hashed with Werkzeug's default (scrypt). Client secrets and tokens are stored as
issued (Authlib's documented models do the same).

Environment: PEER_DB (database path). `python app.py init CLIENT_ID CLIENT_SECRET USERNAME PASSWORD`
creates the schema, the client and the user.
"""

import os
import sqlite3
import sys
import time

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Flask, jsonify
from werkzeug.security import check_password_hash, generate_password_hash

DB_PATH = os.environ.get("PEER_DB", "authlib-peer.db")
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY, client_secret TEXT NOT NULL, grant_types TEXT NOT NULL, scope TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    user_id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY, client_id TEXT NOT NULL, user_id INTEGER, scope TEXT NOT NULL,
    access_token TEXT NOT NULL UNIQUE, refresh_token TEXT UNIQUE,
    issued_at INTEGER NOT NULL, expires_in INTEGER NOT NULL,
    access_revoked INTEGER NOT NULL DEFAULT 0, refresh_revoked INTEGER NOT NULL DEFAULT 0);
"""

_conn = None
_conn_pid = None


def db():
    """One connection per worker process (gunicorn forks after import)."""
    global _conn, _conn_pid
    if _conn is None or _conn_pid != os.getpid():
        _conn = sqlite3.connect(DB_PATH, timeout=10, check_same_thread=False)
        _conn.row_factory = sqlite3.Row
        _conn.execute("PRAGMA journal_mode=WAL")
        _conn.execute("PRAGMA synchronous=FULL")
        _conn.execute("PRAGMA busy_timeout=10000")
        _conn_pid = os.getpid()
    return _conn


class Client(ClientMixin):
    def __init__(self, row):
        self.client_id = row["client_id"]
        self.client_secret = row["client_secret"]
        self.grant_types = row["grant_types"].split()
        self.scope = row["scope"]

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        if not scope:
            return self.scope
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        import hmac

        return hmac.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in AUTH_METHODS

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


class Token(TokenMixin):
    def __init__(self, row):
        self.row = row

    def check_client(self, client):
        return self.row["client_id"] == client.get_client_id()

    def get_scope(self):
        return self.row["scope"]

    def get_expires_in(self):
        return self.row["expires_in"]

    def is_expired(self):
        return self.row["issued_at"] + self.row["expires_in"] < time.time()

    def is_revoked(self):
        return bool(self.row["access_revoked"])

    def get_user(self):
        return self.row["user_id"]

    def get_client(self):
        return query_client(self.row["client_id"])


class User:
    def __init__(self, user_id, username):
        self.id = user_id
        self.username = username

    def get_user_id(self):
        return self.id


def query_client(client_id):
    row = db().execute("SELECT * FROM clients WHERE client_id = ?", (client_id,)).fetchone()
    return Client(row) if row else None


def save_token(token, request):
    user = request.user
    db().execute(
        "INSERT INTO tokens (client_id, user_id, scope, access_token, refresh_token, issued_at, expires_in) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            request.client.get_client_id(),
            user.get_user_id() if user else None,
            token.get("scope", ""),
            token["access_token"],
            token.get("refresh_token"),
            int(time.time()),
            token["expires_in"],
        ),
    )


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def authenticate_user(self, username, password):
        row = db().execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
        if row and check_password_hash(row["password_hash"], password):
            return User(row["user_id"], row["username"])
        return None


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation

    def authenticate_refresh_token(self, refresh_token):
        row = db().execute(
            "SELECT * FROM tokens WHERE refresh_token = ? AND refresh_revoked = 0", (refresh_token,)
        ).fetchone()
        return Token(row) if row else None

    def authenticate_user(self, refresh_token):
        row = db().execute("SELECT * FROM users WHERE user_id = ?", (refresh_token.get_user(),)).fetchone()
        return User(row["user_id"], row["username"]) if row else None

    def revoke_old_credential(self, refresh_token):
        # Compare-and-set: of two concurrent refreshes with one token, exactly one wins. The access
        # token issued with it stays valid until it expires (as on Tessera and the node peer).
        cursor = db().execute(
            "UPDATE tokens SET refresh_revoked = 1 WHERE id = ? AND refresh_revoked = 0",
            (refresh_token.row["id"],),
        )
        if cursor.rowcount != 1:
            raise InvalidGrantError()


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS


class TokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        row = db().execute("SELECT * FROM tokens WHERE access_token = ?", (token_string,)).fetchone()
        return Token(row) if row else None


app = Flask(__name__)
app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True  # Authlib issues no refresh token otherwise
app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"password": 3600, "refresh_token": 3600, "client_credentials": 3600}
server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
server.register_grant(PasswordGrant)
server.register_grant(RefreshTokenGrant)
server.register_grant(ClientCredentialsGrant)
require_oauth = ResourceProtector()
require_oauth.register_token_validator(TokenValidator())


@app.post("/oauth/token")
def issue_token():
    # The whole grant (insert of the new token, revocation of the old one) is one transaction.
    conn = db()
    try:
        response = server.create_token_response()
    except Exception:
        conn.rollback()
        raise
    if response.status_code == 200:
        conn.commit()
    else:
        conn.rollback()
    return response


@app.get("/me")
@require_oauth()
def me():
    from authlib.integrations.flask_oauth2 import current_token

    row = db().execute("SELECT user_id, username FROM users WHERE user_id = ?", (current_token.get_user(),)).fetchone()
    if row is None:  # a client_credentials token has no user
        return jsonify(client_id=current_token.row["client_id"])
    return jsonify(sub=str(row["user_id"]), username=row["username"])


@app.get("/healthz")
def healthz():
    db().execute("SELECT 1").fetchone()
    return jsonify(status="ok")


def init(client_id, client_secret, username, password):
    conn = db()
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT INTO clients VALUES (?, ?, ?, ?)",
        (client_id, client_secret, "password refresh_token client_credentials", "read write"),
    )
    conn.execute(
        "INSERT INTO users (username, password_hash) VALUES (?, ?)", (username, generate_password_hash(password))
    )
    conn.commit()


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "init":
        init(*sys.argv[2:])
    else:
        sys.exit("usage: PEER_DB=path python app.py init CLIENT_ID CLIENT_SECRET USERNAME PASSWORD")
