-- Open problems that notifications were sent about (DESIGN §6b, issue 11).
--
-- One row per problem while it lasts: a job failing ('job:<job>'), an entry
-- late or missed ('entry:<name>:late', 'entry:<name>:missed'). The process
-- whose INSERT … ON CONFLICT DO NOTHING RETURNING creates the row sends the
-- alert; the one whose DELETE … RETURNING removes it sends the recovery. So
-- a job failing every ten minutes overnight sends one message and one
-- recovery, and two dynos never send the same alert twice.
CREATE TABLE jobrun.alerts (
	problem text PRIMARY KEY,
	kind text NOT NULL CHECK (kind IN ('failing', 'late', 'missed')),
	subject text NOT NULL,             -- the job or the schedule entry
	run_id bigint,                     -- the run that opened it, when one did
	detail text,                       -- failed/partial/abandoned, or the entry's detail
	opened_at timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	occurrences bigint NOT NULL DEFAULT 1  -- failed runs while it was open
);
