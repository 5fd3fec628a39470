-- Bounded refresh-token families (issue 10, item 4): each token records its generation in its
-- family's chain (the first token 0, its successor 1, …), so a rotation can delete the family's
-- spent tokens older than the last few by one indexed range. Tokens written before this
-- migration count as generation 0 and are deleted, a few per rotation, once the chain moves on.
ALTER TABLE refresh_tokens ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
DROP INDEX refresh_tokens_family_id;
CREATE INDEX refresh_tokens_family_generation ON refresh_tokens (family_id, generation);

-- The authorization codes one user holds, newest first: the cap on a user's pending codes.
CREATE INDEX authorization_codes_user_created ON authorization_codes (user_id, created_at);

-- A client's families, found in batches when the client is deleted.
CREATE INDEX refresh_families_client_id ON refresh_families (client_id);
