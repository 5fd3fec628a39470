"""A relying party for the OpenID Connect browser test, written with Authlib (an independent
OpenID Connect client library) and checked again with PyJWT. It knows only the issuer URL, a
client id and a secret: everything else comes from discovery.

Usage: rp.py ISSUER CLIENT_ID CLIENT_SECRET. Prints `listening on PORT`, then serves:
  /login?prompt=…&max_age=…  redirect to the authorization endpoint (state, nonce, PKCE)
  /callback                  redeem the code, validate the id token, call userinfo; shows JSON
  /logout                    redirect to the end-session endpoint with id_token_hint and state
  /signed-out                where the end-session endpoint sends the browser back
"""

import base64
import hashlib
import html
import json
import secrets
import sys
import urllib.parse
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Authlib 1.x announces joserfc as the successor of authlib.jose, which still does the job.
warnings.filterwarnings("ignore", message="authlib.jose module is deprecated")

import jwt  # noqa: E402
import requests  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.jose import JsonWebKey  # noqa: E402
from authlib.jose import jwt as authlib_jwt  # noqa: E402
from authlib.oidc.core import CodeIDToken  # noqa: E402

ISSUER, CLIENT_ID, CLIENT_SECRET = sys.argv[1:4]
SCOPE = "openid profile email"
# The server under test runs on a manual clock that the test moves a little ahead.
LEEWAY = 300
metadata = requests.get(ISSUER + "/.well-known/openid-configuration", timeout=10).json()
assert metadata["issuer"] == ISSUER, metadata
pending = {}  # state -> (nonce, code_verifier)
last = {}  # the last validated sign-in: id_token, logout state


def page(handler, status, body, element="result"):
    handler.send_response(status)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.end_headers()
    text = f'<!doctype html><title>RP</title><pre id="{element}">{html.escape(body)}</pre>'
    handler.wfile.write(text.encode())


def redirect(handler, location):
    handler.send_response(302)
    handler.send_header("Location", location)
    handler.end_headers()


def redirect_uri(handler):
    return f"http://127.0.0.1:{handler.server.server_address[1]}/callback"


def validate(token, nonce):
    """Authlib's OpenID Connect id-token rules (§3.1.3.7, at_hash §3.1.3.8), then PyJWT."""
    jwks = requests.get(metadata["jwks_uri"], timeout=10).json()
    claims = authlib_jwt.decode(
        token["id_token"],
        JsonWebKey.import_key_set(jwks),
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": ISSUER}},
        claims_params={"nonce": nonce, "client_id": CLIENT_ID, "access_token": token["access_token"]},
    )
    claims.validate(leeway=LEEWAY)
    signing_key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(token["id_token"])
    checked = jwt.decode(
        token["id_token"],
        signing_key.key,
        algorithms=metadata["id_token_signing_alg_values_supported"],
        audience=CLIENT_ID,
        issuer=ISSUER,
        leeway=LEEWAY,
    )
    digest = hashlib.sha256(token["access_token"].encode()).digest()
    at_hash = base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()
    assert checked["at_hash"] == at_hash, (checked["at_hash"], at_hash)
    assert checked == dict(claims), (checked, dict(claims))
    return checked


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        try:
            if url.path == "/login":
                self.login(query)
            elif url.path == "/callback":
                self.callback(query)
            elif url.path == "/logout":
                state = secrets.token_urlsafe(16)
                last["logout_state"] = state
                here = f"http://127.0.0.1:{self.server.server_address[1]}"
                params = {
                    "id_token_hint": last["id_token"],
                    "post_logout_redirect_uri": here + "/signed-out",
                    "state": state,
                }
                redirect(self, metadata["end_session_endpoint"] + "?" + urllib.parse.urlencode(params))
            elif url.path == "/signed-out":
                assert query.get("state") == last.get("logout_state"), query
                page(self, 200, "signed out", "signed-out")
            else:
                page(self, 404, "not found", "error")
        except Exception as error:  # shown to the test, which fails with it
            page(self, 500, f"{type(error).__name__}: {error}", "error")

    def login(self, query):
        client = OAuth2Session(CLIENT_ID, CLIENT_SECRET, scope=SCOPE, redirect_uri=redirect_uri(self),
                               code_challenge_method="S256")
        nonce = secrets.token_urlsafe(16)
        verifier = secrets.token_urlsafe(48)
        extra = {name: query[name] for name in ("prompt", "max_age") if name in query}
        url, state = client.create_authorization_url(
            metadata["authorization_endpoint"], nonce=nonce, code_verifier=verifier, **extra
        )
        pending[state] = (nonce, verifier)
        redirect(self, url)

    def callback(self, query):
        nonce, verifier = pending.pop(query["state"])
        if "error" in query:
            page(self, 200, query["error"], "oidc-error")
            return
        assert query.get("iss") == ISSUER, query
        client = OAuth2Session(CLIENT_ID, CLIENT_SECRET, scope=SCOPE, redirect_uri=redirect_uri(self),
                               token_endpoint_auth_method="client_secret_basic")
        token = client.fetch_token(
            metadata["token_endpoint"],
            authorization_response="http://127.0.0.1" + self.path,
            code_verifier=verifier,
        )
        claims = validate(token, nonce)
        userinfo = client.get(metadata["userinfo_endpoint"]).json()
        assert userinfo["sub"] == claims["sub"], (userinfo, claims)
        last["id_token"] = token["id_token"]
        page(self, 200, json.dumps({"id_token": claims, "userinfo": userinfo}, sort_keys=True))


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()
