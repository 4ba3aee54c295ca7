-- jobrun's own bookkeeping: one row per job invocation.
CREATE SCHEMA IF NOT EXISTS jobrun;

CREATE TABLE jobrun.runs (
	id bigserial PRIMARY KEY,
	job text NOT NULL,
	lock_key text NOT NULL,
	args jsonb NOT NULL DEFAULT '{}',
	status text NOT NULL CHECK (status IN
		('running', 'succeeded', 'failed', 'partial', 'interrupted', 'skipped', 'abandoned')),
	started_at timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz,
	items_processed bigint NOT NULL DEFAULT 0,
	items_succeeded bigint NOT NULL DEFAULT 0,
	items_failed bigint NOT NULL DEFAULT 0,
	api_requests bigint NOT NULL DEFAULT 0,
	summary jsonb NOT NULL DEFAULT '{}',
	error text,
	dyno text,
	host text,
	pid integer
);

CREATE INDEX runs_job_started_idx ON jobrun.runs (job, started_at DESC);
CREATE INDEX runs_started_idx ON jobrun.runs (started_at);
-- Abandoned-run recovery looks up running rows by lock key.
CREATE INDEX runs_running_idx ON jobrun.runs (lock_key) WHERE status = 'running';
