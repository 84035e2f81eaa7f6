-- The registry search (人员) reads one index that holds every column it filters and sorts
-- on within a unit's subtree: the page is chosen from the index alone and only its rows are
-- read from the table (docs/storage.md, "Case lists"). It replaces (residence_code), of which
-- it is a superset.
CREATE INDEX people_search ON people (residence_code, name, id_number, flow_status, hukou_code, id);
DROP INDEX people_residence;
