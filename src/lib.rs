//! ddb-audit library.
