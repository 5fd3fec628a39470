-- A client's introspection access (`tessera client … --introspect`): 0 = only tokens issued to
-- the client itself, 1 = a resource server, which may introspect any access token. Existing
-- clients see only their own tokens, as RFC 7662 §4 advises.
ALTER TABLE clients ADD COLUMN may_introspect BIGINT NOT NULL DEFAULT 0;
