-- One spelling across the project: the seed and the tools say "analyze".
ALTER TABLE screens RENAME COLUMN analysed TO analyzed;
