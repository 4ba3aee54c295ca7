-- jobrun orphans (issue 8): Cloudinary assets that no row of the app
-- references (jobrun.asset_refs, a view the app defines). Findings live here
-- because a dyno's disk is ephemeral: "which orphans have we seen for a
-- week?" is a query, not a search through old reports.
CREATE TABLE jobrun.orphans (
	id bigserial PRIMARY KEY,
	resource_type text NOT NULL,
	public_id text NOT NULL,
	bytes bigint,
	format text,
	created_at timestamptz,          -- Cloudinary's, "…Z" or "…+00:00" on the wire
	uploaded_at timestamptz,
	secure_url text,
	first_seen_run bigint,
	first_seen_at timestamptz NOT NULL DEFAULT now(),
	last_seen_run bigint,
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	-- Referenced again by the app: no longer an orphan (cleared if it loses
	-- its reference once more).
	resolved_at timestamptz,
	-- Deleted by `orphans --delete` (Cloudinary answered deleted or not_found).
	deleted_at timestamptz,
	UNIQUE (resource_type, public_id)
);

-- The open findings, oldest first: what the report lists and --delete takes.
CREATE INDEX orphans_open_idx ON jobrun.orphans (first_seen_at)
	WHERE resolved_at IS NULL AND deleted_at IS NULL;
-- prune: findings that were resolved or deleted long enough ago.
CREATE INDEX orphans_closed_idx ON jobrun.orphans ((coalesce(deleted_at, resolved_at)))
	WHERE resolved_at IS NOT NULL OR deleted_at IS NOT NULL;

-- Where a scan stands, so that one the hourly budget or --max-runtime cuts
-- short resumes in the next run. Cloudinary's cursors may expire between
-- runs, so the position is an uploaded_at watermark: the scan lists
-- uploaded_at in [watermark, window_to] in ascending order. Assets uploaded
-- exactly at the watermark may be listed twice; watermark_keys holds the ones
-- already counted ("<resource_type>/<public_id>"), so the counts stay exact.
-- One scan per (types, days): a daily 7-day scan and a weekly full one keep
-- their own positions.
CREATE TABLE jobrun.orphan_scans (
	types text NOT NULL,             -- sorted, comma-separated: "image,raw,video"
	days integer NOT NULL,           -- the window in days; 0: every upload
	window_from timestamptz,         -- lower bound of uploaded_at; NULL with days 0
	window_to timestamptz NOT NULL,  -- upper bound: when the scan started
	watermark timestamptz,           -- checked up to here; NULL: nothing yet
	watermark_keys text[] NOT NULL DEFAULT '{}',
	checked bigint NOT NULL DEFAULT 0,     -- assets listed and decided
	referenced bigint NOT NULL DEFAULT 0,
	orphaned bigint NOT NULL DEFAULT 0,
	too_new bigint NOT NULL DEFAULT 0,     -- unreferenced but within --min-age
	remaining bigint,                -- the last search's total_count: still to list
	started_run bigint,
	started_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	completed_at timestamptz,        -- NULL while the scan is in progress
	PRIMARY KEY (types, days)
);
