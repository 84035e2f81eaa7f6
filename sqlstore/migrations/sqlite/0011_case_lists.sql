-- The case lists of the web application (待办 by deadline, 案件 newest first) read one index
-- that holds every column they filter and sort on: the page is chosen from the index alone
-- and only its rows are read from the table (docs/storage.md, "Case lists"). It replaces the
-- narrower (org_unit, state), of which it is a superset for every query by unit.
CREATE INDEX cases_list ON cases (org_unit, direction, state, type, overdue, due_at, created_at, id);
DROP INDEX cases_unit_state;
