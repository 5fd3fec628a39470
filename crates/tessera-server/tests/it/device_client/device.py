"""An independent RFC 8628 client: Authlib's OAuth2Session (a public client, no secret)
polls Tessera's token endpoint with the device_code grant, honouring authorization_pending
and slow_down (interval + 5 s) as RFC 8628 §3.5 says. Authlib has no device-flow loop of its
own, so the loop is written here from the RFC; Authlib sends the requests and parses the
errors and the token response.

Usage: device.py ISSUER CLIENT_ID SLEEP_SCALE. Prints one JSON object per line: the device
authorization response, then each poll's error, then the token response (with the result).
SLEEP_SCALE shortens the sleeps for the test (the server's clock is a test clock).
"""

import json
import sys
import time

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc8628 import DEVICE_CODE_GRANT_TYPE


def say(**fields):
    print(json.dumps(fields), flush=True)


def main():
    issuer, client_id, scale = sys.argv[1], sys.argv[2], float(sys.argv[3])
    metadata = requests.get(f"{issuer}/.well-known/oauth-authorization-server", timeout=10).json()
    session = OAuth2Session(client_id, scope="openid read", token_endpoint_auth_method="none")
    response = session.post(
        metadata["device_authorization_endpoint"],
        data={"client_id": client_id, "scope": "openid read"},
        withhold_token=True,
        timeout=10,
    )
    response.raise_for_status()
    device = response.json()
    say(step="device_authorization", **{k: device[k] for k in ("user_code", "verification_uri", "expires_in", "interval")})
    interval = device["interval"]
    deadline = time.monotonic() + device["expires_in"]
    first = True
    while time.monotonic() < deadline:
        if not first:
            time.sleep(interval * scale)
        first = False
        try:
            token = session.fetch_token(
                metadata["token_endpoint"],
                grant_type=DEVICE_CODE_GRANT_TYPE,
                device_code=device["device_code"],
            )
        except OAuthError as error:
            say(step="poll", error=error.error, description=error.description)
            if error.error == "authorization_pending":
                continue
            if error.error == "slow_down":
                interval += 5
                continue
            return 1
        say(
            step="token",
            token_type=token["token_type"],
            scope=token.get("scope"),
            access_token=token["access_token"],
            refresh_token=bool(token.get("refresh_token")),
            id_token=bool(token.get("id_token")),
            interval=interval,
        )
        return 0
    say(step="expired")
    return 1


if __name__ == "__main__":
    sys.exit(main())
