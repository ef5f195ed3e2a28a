-- Team notebooks: a notebook its owner shared with their workshop team.
-- Every member of the team opens, edits and runs it (each on their own
-- kernel); edits stay guarded by the notebook's revision.

ALTER TABLE notebooks ADD COLUMN team_id TEXT REFERENCES teams (id) ON DELETE SET NULL;
CREATE INDEX notebooks_team ON notebooks (team_id);
