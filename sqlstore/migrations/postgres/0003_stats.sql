-- Monthly statistics (S1.1, docs/stats.md): the aggregates of a month as they stood when its
-- snapshot was taken, so a past month's report is reproducible after the registry changes.
-- Counts only: no table here names a person.

CREATE TABLE stats_snapshots (
    month    TEXT PRIMARY KEY, -- 'YYYY-MM'
    taken_at TIMESTAMPTZ NOT NULL,
    actor    TEXT NOT NULL,
    people   BIGINT NOT NULL
);

-- People present at the end of the month by full residence code, sex, age band (index into
-- stats.AgeBands at the time of the snapshot) and marital status.
CREATE TABLE stats_population (
    month          TEXT NOT NULL,
    residence_code TEXT NOT NULL,
    sex            TEXT NOT NULL,
    age_band       SMALLINT NOT NULL,
    marital_status TEXT NOT NULL,
    people         BIGINT NOT NULL,
    PRIMARY KEY (month, residence_code, sex, age_band, marital_status)
);

-- Flow events dated in the month by kind, origin and destination.
CREATE TABLE stats_flows (
    month     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    from_code TEXT NOT NULL,
    to_code   TEXT NOT NULL,
    events    BIGINT NOT NULL,
    PRIMARY KEY (month, kind, from_code, to_code)
);

-- People present at the end of the month by hukou city and residence city (4 digits): the
-- node's rows of the region's origin × destination matrix.
CREATE TABLE stats_origins (
    month          TEXT NOT NULL,
    hukou_code     TEXT NOT NULL,
    residence_code TEXT NOT NULL,
    people         BIGINT NOT NULL,
    PRIMARY KEY (month, hukou_code, residence_code)
);
