-- The reference app: a small schema shaped like the Django app whose
-- maintenance scripts cleanup and orphans replace, and its binding to
-- jobrun (DESIGN.md §6, README "Binding the app's data"). The tests and
-- `make demo` install it; an app of your own writes the four objects in the
-- second half over its own tables.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f scripts/refapp.sql
--
-- Idempotent: run it again and nothing changes (data included).

SET client_min_messages = warning;

-- ------------------------------------------------------------------ the app
CREATE SCHEMA IF NOT EXISTS app;

CREATE TABLE IF NOT EXISTS app.users (
	id bigserial PRIMARY KEY,
	email text NOT NULL UNIQUE,
	plan text NOT NULL DEFAULT 'free'          -- 'free' or 'premium'
);

-- Prompts go to the trash (deleted_at set) before they are purged for good.
CREATE TABLE IF NOT EXISTS app.prompts (
	id bigserial PRIMARY KEY,
	user_id bigint NOT NULL REFERENCES app.users (id),
	title text NOT NULL DEFAULT '',
	deleted_at timestamptz
);
CREATE INDEX IF NOT EXISTS prompts_trash ON app.prompts (deleted_at) WHERE deleted_at IS NOT NULL;

-- A prompt's files on Cloudinary, by public_id and resource type.
CREATE TABLE IF NOT EXISTS app.prompt_assets (
	id bigserial PRIMARY KEY,
	prompt_id bigint NOT NULL REFERENCES app.prompts (id),
	public_id varchar(255) NOT NULL,
	resource_type varchar(16) NOT NULL DEFAULT 'image'  -- image, video, raw
);
CREATE INDEX IF NOT EXISTS prompt_assets_prompt ON app.prompt_assets (prompt_id);
CREATE INDEX IF NOT EXISTS prompt_assets_public ON app.prompt_assets (resource_type, public_id);

-- ------------------------------------------------------ the binding to jobrun
CREATE SCHEMA IF NOT EXISTS jobrun;

-- Trashed items and the plan whose retention applies to them.
CREATE OR REPLACE VIEW jobrun.trash_items AS
	SELECT p.id AS item_id, u.plan, p.deleted_at, p.title AS label
	FROM app.prompts p JOIN app.users u ON u.id = p.user_id
	WHERE p.deleted_at IS NOT NULL;

-- Their assets. (A delivery_type column may say "private" or
-- "authenticated"; without it every asset is "upload".)
CREATE OR REPLACE VIEW jobrun.trash_assets AS
	SELECT a.prompt_id AS item_id, a.public_id, a.resource_type
	FROM app.prompt_assets a JOIN app.prompts p ON p.id = a.prompt_id
	WHERE p.deleted_at IS NOT NULL;

-- Every asset the app references, trashed items included: orphans never
-- deletes what a trashed item still points at (cleanup does, on schedule).
CREATE OR REPLACE VIEW jobrun.asset_refs AS
	SELECT a.public_id, a.resource_type FROM app.prompt_assets a;

-- Deletes those items for good, with their asset rows, and says how many.
-- Only items still in the trash: one restored meanwhile stays.
CREATE OR REPLACE FUNCTION jobrun.purge_items(ids bigint[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	DELETE FROM app.prompt_assets a USING app.prompts p
	WHERE a.prompt_id = p.id AND p.id = ANY (ids) AND p.deleted_at IS NOT NULL;
	DELETE FROM app.prompts p WHERE p.id = ANY (ids) AND p.deleted_at IS NOT NULL;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END;
$$;
