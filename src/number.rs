//! Exact comparison of DynamoDB number text (`"1.50"` equals `"15E-1"`), never via floats.
//!
//! This module performs no IO.
