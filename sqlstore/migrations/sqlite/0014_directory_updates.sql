-- The directory applier reads the directory.update cases received since its last round
-- (DirectoryUpdatesAfter): this partial index holds only those, in arrival order, so a round
-- costs the updates that arrived, not the node's cases.
CREATE INDEX cases_directory_updates ON cases (created_at, id) WHERE type = 'directory.update' AND direction = 'in';
