-- A second slot for a send whose first one went unused (DESIGN §5).
--
-- A send must leave within a few milliseconds of its slot, or the next
-- process's slot is too close to it. When jobrun finds a send would leave
-- late (a slow connect, a descheduled process, libcurl re-sending on a new
-- connection after a kept-alive one turned out dead), it does not send; it
-- asks here for a new slot. The window already counted this request when the
-- first slot was taken (and still holds it), so only the spacing and any
-- block are honoured: the window is neither checked nor counted again.
--
-- A missed slot that is still the last one reserved costs nothing to replace:
-- nobody is waiting behind it, so the new slot may be now. next_by names the
-- session (pg_backend_pid(); jobrun keeps one connection for the limiter per
-- process) that reserved next_at. With p_alone (the caller has no other slot
-- outstanding) and next_by our own session, the bucket's next_at is our
-- missed slot's, and is not waited for; otherwise the new slot comes after
-- whatever was reserved meanwhile.
--
-- Same input and answer as jobrun.rate_take(); limiting is the bucket whose
-- next_at or block set the slot.
ALTER TABLE jobrun.rate_buckets ADD COLUMN next_by integer;

CREATE OR REPLACE FUNCTION jobrun.rate_take(p_buckets jsonb, p_max_wait double precision,
	p_lead double precision)
RETURNS TABLE (granted boolean, wait_s double precision, limiting integer)
LANGUAGE plpgsql AS $$
DECLARE
	now_ts timestamptz;
	slot timestamptz;
	worst integer;
BEGIN
	-- Waiting for the WAL flush would delay every client between reading
	-- its wait and sleeping it. The price: a database crash can forget the
	-- last few reservations (a few requests, once), never a whole window.
	PERFORM set_config('synchronous_commit', 'off', true);

	INSERT INTO jobrun.rate_buckets (provider, bucket, window_limit, period, spacing)
	SELECT i.provider, i.bucket, i.lim, i.period, i.spacing
	FROM jobrun.rate_input(p_buckets) i
	ORDER BY i.provider, i.bucket
	ON CONFLICT (provider, bucket) DO NOTHING;

	PERFORM 1 FROM jobrun.rate_buckets r
	WHERE (r.provider, r.bucket) IN (SELECT i.provider, i.bucket FROM jobrun.rate_input(p_buckets) i)
	ORDER BY r.provider, r.bucket
	FOR UPDATE;

	-- p_lead: a slot is never sooner than this. A slot of "now" would make
	-- the client late by the whole trip back, while a slot a few
	-- milliseconds ahead lets it sleep through that trip and send on time.
	-- Costs nothing when pacing is saturated: the slot is ahead anyway.
	now_ts := clock_timestamp();

	SELECT e.t, e.idx INTO slot, worst
	FROM (
		SELECT i.idx,
		       CASE WHEN i.lim > 0 AND r.window_start IS NOT NULL
				 AND r.window_count >= i.lim
				 AND greatest(now_ts + make_interval(secs => p_lead), r.next_at, r.blocked_until)
				     < r.window_start + i.period + i.window_margin
			    THEN r.window_start + i.period + i.window_margin
			    ELSE greatest(now_ts + make_interval(secs => p_lead), r.next_at, r.blocked_until)
		       END AS t
		FROM jobrun.rate_input(p_buckets) i
		JOIN jobrun.rate_buckets r ON r.provider = i.provider AND r.bucket = i.bucket
	) e
	ORDER BY e.t DESC, e.idx
	LIMIT 1;

	IF slot IS NULL THEN -- no buckets: nothing to wait for
		RETURN QUERY SELECT true, 0::float8, -1;
		RETURN;
	END IF;
	IF slot - now_ts > make_interval(secs => p_max_wait) THEN
		RETURN QUERY SELECT false, extract(epoch FROM slot - now_ts)::float8, worst;
		RETURN;
	END IF;

	UPDATE jobrun.rate_buckets r
	SET window_limit = i.lim,
	    period = i.period,
	    spacing = i.spacing,
	    window_start = CASE
		WHEN i.lim = 0 THEN NULL
		WHEN r.window_start IS NULL OR slot >= r.window_start + i.period + i.window_margin THEN slot
		ELSE r.window_start END,
	    window_count = CASE
		WHEN i.lim = 0 THEN 0
		WHEN r.window_start IS NULL OR slot >= r.window_start + i.period + i.window_margin THEN 1
		ELSE r.window_count + 1 END,
	    -- A slot already past (the locks or a cold plan took a while) means we
	    -- send later than the slot: space the next one from the real time.
	    next_at = greatest(slot, clock_timestamp()) + i.spacing + i.spacing_margin,
	    next_by = pg_backend_pid(),
	    updated_at = now_ts
	FROM jobrun.rate_input(p_buckets) i
	WHERE r.provider = i.provider AND r.bucket = i.bucket;

	-- The wait is measured at the last moment, and returned without another
	-- query to plan, so the time spent here after reading the clock does not
	-- make the client late.
	granted := true;
	wait_s := extract(epoch FROM slot - clock_timestamp());
	limiting := worst;
	RETURN NEXT;
END
$$;

CREATE FUNCTION jobrun.rate_respace(p_buckets jsonb, p_max_wait double precision,
	p_lead double precision, p_alone boolean)
RETURNS TABLE (granted boolean, wait_s double precision, limiting integer)
LANGUAGE plpgsql AS $$
DECLARE
	now_ts timestamptz;
	slot timestamptz;
	worst integer;
BEGIN
	PERFORM set_config('synchronous_commit', 'off', true);

	-- The rows exist: rate_take() made them for the first slot. Lock them in
	-- key order, as rate_take() does, and read the clock only then.
	PERFORM 1 FROM jobrun.rate_buckets r
	WHERE (r.provider, r.bucket) IN (SELECT i.provider, i.bucket FROM jobrun.rate_input(p_buckets) i)
	ORDER BY r.provider, r.bucket
	FOR UPDATE;

	now_ts := clock_timestamp();

	SELECT greatest(now_ts + make_interval(secs => p_lead),
			CASE WHEN p_alone AND r.next_by = pg_backend_pid() THEN NULL ELSE r.next_at END,
			r.blocked_until), i.idx
	INTO slot, worst
	FROM jobrun.rate_input(p_buckets) i
	JOIN jobrun.rate_buckets r ON r.provider = i.provider AND r.bucket = i.bucket
	ORDER BY 1 DESC, i.idx
	LIMIT 1;

	IF slot IS NULL THEN
		RETURN QUERY SELECT true, 0::float8, -1;
		RETURN;
	END IF;
	IF slot - now_ts > make_interval(secs => p_max_wait) THEN
		RETURN QUERY SELECT false, extract(epoch FROM slot - now_ts)::float8, worst;
		RETURN;
	END IF;

	UPDATE jobrun.rate_buckets r
	SET next_at = greatest(slot, clock_timestamp()) + i.spacing + i.spacing_margin,
	    next_by = pg_backend_pid(),
	    updated_at = now_ts
	FROM jobrun.rate_input(p_buckets) i
	WHERE r.provider = i.provider AND r.bucket = i.bucket;

	granted := true;
	wait_s := extract(epoch FROM slot - clock_timestamp());
	limiting := worst;
	RETURN NEXT;
END
$$;
