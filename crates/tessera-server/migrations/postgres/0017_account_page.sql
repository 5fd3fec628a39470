-- The account page (issue 13): a user's own families (the applications that hold tokens for
-- them) and browser sessions (ended when they change their password) are found by user.
CREATE INDEX refresh_families_user_id ON refresh_families (user_id);
CREATE INDEX browser_sessions_user_id ON browser_sessions (user_id);
