-- The schedule's state (issue 10): which slots were claimed and what became
-- of them, which entries are paused, and which run belongs to which entry.

-- The schedule entry a run belongs to: the clock's or tick's child gets it
-- from JOBRUN_ENTRY, a run started by hand or by Heroku Scheduler records
-- the name derived from its command line. `status` reads runs by it.
ALTER TABLE jobrun.runs ADD COLUMN entry text;
CREATE INDEX runs_entry_started_idx ON jobrun.runs (entry, started_at DESC) WHERE entry IS NOT NULL;

-- One row per slot (entry, due time), inserted with ON CONFLICT DO NOTHING
-- before anything runs: whoever inserts it owns it, so two clocks, a clock
-- and a tick, or two ticks never run one slot twice. A coalesced, missed or
-- paused row may stand for several slots (first_due_at .. due_at, `slots`).
CREATE TABLE jobrun.schedule_slots (
	entry text NOT NULL,
	due_at timestamptz NOT NULL,
	first_due_at timestamptz NOT NULL,
	slots integer NOT NULL DEFAULT 1 CHECK (slots >= 1),
	state text NOT NULL CHECK (state IN
		('claimed', 'started', 'finished', 'skipped', 'missed', 'coalesced', 'paused')),
	reason text,
	claimed_at timestamptz NOT NULL DEFAULT now(),
	claimed_by text NOT NULL,      -- "clock host=… pid=…" / "tick dyno=scheduler.1 …"
	child_pid integer,
	started_at timestamptz,
	finished_at timestamptz,
	exit_code integer,
	run_id bigint REFERENCES jobrun.runs (id) ON DELETE SET NULL,
	PRIMARY KEY (entry, due_at)
);
CREATE INDEX schedule_slots_run_idx ON jobrun.schedule_slots (run_id) WHERE run_id IS NOT NULL;

-- Entries paused with `jobrun schedule pause NAME`: their slots are recorded
-- `paused` and not run until `resume`.
CREATE TABLE jobrun.schedule_paused (
	entry text PRIMARY KEY,
	paused_at timestamptz NOT NULL DEFAULT now(),
	paused_by text NOT NULL
);
