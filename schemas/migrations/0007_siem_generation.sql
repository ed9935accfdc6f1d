-- A destination's forwarding generation: `POST /v1/siem/destinations/{id}/seek` starts a new one
-- (a new consumer group, positioned from the new `start`); 0 for every destination before it.
ALTER TABLE siem_destinations ADD COLUMN IF NOT EXISTS generation UInt32 DEFAULT 0;
