-- The newest regime row per (region, as_of_date) in [first_date, last_date].
-- Newest = created_at desc, then regime_record_id desc; its NULL embedding means "no regime".
SELECT DISTINCT ON (region, as_of_date)
       region,
       as_of_date,
       regime_record_id,
       regime_embedding
  FROM regimes
 WHERE region = ANY(%(regions)s)
   AND as_of_date >= %(first_date)s
   AND as_of_date <= %(last_date)s
 ORDER BY region, as_of_date, created_at DESC, regime_record_id DESC
