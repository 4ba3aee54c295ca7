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
-- Same input and answer as jobrun.rate_take(); limiting is the bucket whose
-- next_at or block set the slot.
CREATE FUNCTION jobrun.rate_respace(p_buckets jsonb, p_max_wait double precision,
	p_lead double precision)
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

	SELECT greatest(now_ts + make_interval(secs => p_lead), r.next_at, r.blocked_until), i.idx
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
	    updated_at = now_ts
	FROM jobrun.rate_input(p_buckets) i
	WHERE r.provider = i.provider AND r.bucket = i.bucket;

	granted := true;
	wait_s := extract(epoch FROM slot - clock_timestamp());
	limiting := worst;
	RETURN NEXT;
END
$$;
