# Verifies a Tessera access token with PyJWT, independently of Tessera's own code:
# fetches the key set from the JWKS URL, checks signature, issuer, audience and expiry.
# Usage: python3 verify_jwt.py ISSUER ACCESS_TOKEN
import json
import sys

import jwt

issuer, token = sys.argv[1], sys.argv[2]
jwks = jwt.PyJWKClient(f"{issuer}/oauth/jwks")
key = jwks.get_signing_key_from_jwt(token)
header = jwt.get_unverified_header(token)
assert header["typ"] == "at+jwt", header
claims = jwt.decode(token, key.key, algorithms=["ES256", "EdDSA"], issuer=issuer, audience=issuer,
                    options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]})
print(json.dumps(claims))
