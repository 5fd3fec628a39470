-- Browser apps (issue 12): the web origins a client's single-page app may call the token,
-- revocation, userinfo and API endpoints from (`tessera client … --allowed-origin`), as a JSON
-- array of normalised origins (`https://app.example`). Existing clients get none: no CORS.
ALTER TABLE clients ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '[]';
