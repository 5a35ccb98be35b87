-- A promotion request back to a former champion (a rollback): its validation need not pass.
ALTER TABLE promotions ADD COLUMN rollback INTEGER NOT NULL DEFAULT 0;
