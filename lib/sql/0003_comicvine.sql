-- The ComicVine cache jobrun primecache keeps fresh. The app fills
-- tracked_volumes (its pull lists) and reads volumes and issues.
CREATE SCHEMA IF NOT EXISTS comicvine;

CREATE TABLE comicvine.tracked_volumes (
	volume_id integer PRIMARY KEY CHECK (volume_id > 0),
	added_at timestamptz NOT NULL DEFAULT now()
);

-- One row per volume jobrun knows about. A row with fetched_at NULL is a
-- tracked volume that could not be fetched yet (its failure backoff lives here).
CREATE TABLE comicvine.volumes (
	id integer PRIMARY KEY,
	name text,
	start_year integer,
	publisher_id integer,
	publisher text,
	count_of_issues integer,
	first_issue_id integer,
	last_issue_id integer,
	image_url text,
	site_url text,
	-- ComicVine's own timestamps carry no zone; kept exactly as given.
	date_added timestamp,
	date_last_updated timestamp,
	-- The record as ComicVine sent it, for whatever else the app reads.
	data jsonb NOT NULL DEFAULT '{}',
	fetched_at timestamptz,
	refresh_after timestamptz,
	issues_fetched_at timestamptz,
	issues_date_last_updated timestamp,
	issues_refresh_after timestamptz,
	fail_count integer NOT NULL DEFAULT 0,
	last_error text,
	retry_after timestamptz,
	gone_at timestamptz
);

CREATE INDEX volumes_refresh_after_idx ON comicvine.volumes (refresh_after);
CREATE INDEX volumes_issues_refresh_after_idx ON comicvine.volumes (issues_refresh_after);

CREATE TABLE comicvine.issues (
	id integer PRIMARY KEY,
	volume_id integer NOT NULL,
	issue_number text,
	name text,
	cover_date date,
	store_date date,
	date_added timestamp,
	date_last_updated timestamp,
	image_url text,
	site_url text,
	data jsonb NOT NULL DEFAULT '{}',
	fetched_at timestamptz NOT NULL
);

CREATE INDEX issues_volume_id_idx ON comicvine.issues (volume_id);
