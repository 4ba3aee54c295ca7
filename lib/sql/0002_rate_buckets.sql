-- Rate limits as shared state (DESIGN §5): one row per (provider, bucket).
-- Every process on every machine takes its slots here, so together they keep
-- the provider's window and spacing. Times come from the database's clock
-- only; clients turn the answers into waits on their own monotonic clock.
CREATE TABLE jobrun.rate_buckets (
	provider text NOT NULL,
	bucket text NOT NULL,
	window_limit bigint NOT NULL DEFAULT 0 CHECK (window_limit >= 0), -- 0: no window
	period interval NOT NULL DEFAULT '0',
	spacing interval NOT NULL DEFAULT '0',
	window_start timestamptz,            -- the reserved send time of the window's first request
	window_count bigint NOT NULL DEFAULT 0,
	next_at timestamptz,                 -- earliest next send (last slot + spacing + margin)
	blocked_until timestamptz,           -- the server asked us to stay away until then
	updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (provider, bucket)
);

-- The caller's buckets, as jobrun.rate_take() receives them:
-- [{"provider","bucket","limit","period","spacing","spacing_margin","window_margin"}, ...]
-- (seconds as numbers). idx is the position in the caller's array.
CREATE FUNCTION jobrun.rate_input(p jsonb)
RETURNS TABLE (idx integer, provider text, bucket text, lim bigint, period interval,
	       spacing interval, spacing_margin interval, window_margin interval)
LANGUAGE sql IMMUTABLE AS $$
	SELECT (e.n - 1)::integer, e.v->>'provider', e.v->>'bucket', (e.v->>'limit')::bigint,
	       make_interval(secs => (e.v->>'period')::float8),
	       make_interval(secs => (e.v->>'spacing')::float8),
	       make_interval(secs => (e.v->>'spacing_margin')::float8),
	       make_interval(secs => (e.v->>'window_margin')::float8)
	FROM jsonb_array_elements(p) WITH ORDINALITY AS e(v, n)
$$;

-- Take one slot in every bucket of a request, or nothing.
--
-- Rows are created if missing, then locked in key order (so two callers with
-- overlapping bucket sets cannot deadlock), and only then is the clock read:
-- a caller that waited for the locks sees the time it actually got them.
--
-- Each bucket's earliest acceptable time is the latest of now (+ p_lead), its next_at
-- and blocked_until, pushed to the window's reopening when the window is full
-- at that time. The slot is the latest of those over all buckets; every
-- constraint only gets easier later, so at the slot all of them hold. When
-- the slot is within p_max_wait it is reserved: counted in each window
-- (a window that has ended by then restarts at the slot) and next_at moves
-- to slot + spacing + margin. Otherwise nothing changes.
--
-- Returns whether it was granted, the wait (slot - now, seconds: the client
-- sleeps that long on its own monotonic clock) and the index of the bucket
-- that set the slot.
CREATE FUNCTION jobrun.rate_take(p_buckets jsonb, p_max_wait double precision,
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

-- The server said only p_remaining requests are left until p_reset_in seconds
-- from now (negative: unknown). Only ever tightens: the count becomes the
-- larger of ours and the server's, and the window lasts until the later of
-- the two ends. With nothing left, the bucket is also blocked until the reset,
-- which covers buckets without a window of their own.
CREATE FUNCTION jobrun.rate_tighten(p_provider text, p_bucket text, p_limit bigint,
	p_period double precision, p_spacing double precision, p_window_margin double precision,
	p_remaining bigint, p_reset_in double precision)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	now_ts timestamptz := clock_timestamp();
	v_period interval := make_interval(secs => p_period);
	used bigint := greatest(p_limit - greatest(p_remaining, 0), 0);
	server_start timestamptz;
BEGIN
	IF p_reset_in >= 0 THEN
		server_start := now_ts + make_interval(secs => least(p_reset_in, p_period)) - v_period;
	END IF;

	INSERT INTO jobrun.rate_buckets AS r (provider, bucket, window_limit, period, spacing,
					      window_start, window_count, updated_at)
	VALUES (p_provider, p_bucket, p_limit, v_period, make_interval(secs => p_spacing),
		coalesce(server_start, now_ts), used, now_ts)
	ON CONFLICT (provider, bucket) DO UPDATE
	SET window_start = CASE
		WHEN r.window_start IS NULL
		     OR now_ts >= r.window_start + v_period + make_interval(secs => p_window_margin)
		THEN excluded.window_start
		ELSE greatest(r.window_start, server_start) END,
	    window_count = CASE
		WHEN r.window_start IS NULL
		     OR now_ts >= r.window_start + v_period + make_interval(secs => p_window_margin)
		THEN excluded.window_count
		ELSE greatest(r.window_count, excluded.window_count) END,
	    updated_at = now_ts;

	IF p_remaining <= 0 AND p_reset_in > 0 THEN
		UPDATE jobrun.rate_buckets r
		SET blocked_until = greatest(r.blocked_until, now_ts + make_interval(secs => p_reset_in))
		WHERE r.provider = p_provider AND r.bucket = p_bucket;
	END IF;
END
$$;
