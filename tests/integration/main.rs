//! Flywheel's integration suites: the real server on an ephemeral port,
//! driven over HTTP like a browser or an API client would. Run on SQLite by
//! default and on PostgreSQL with `FLYWHEEL_TEST_DATABASE=postgres` (the test
//! command `bash tests/run.sh` does both).

mod api;
mod browser;
mod curriculum;
mod datasets;
mod endpoints;
mod kernel;
mod labs;
mod notebooks;
mod ops;
mod pages;
mod storage;
mod training;
mod workshops;
