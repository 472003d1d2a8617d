//! `ddb-audit recover`: the batches Lambda gave up on, brought back from the stream.
//!
//! After `MaximumRetryAttempts` or `MaximumRecordAgeInSeconds` Lambda skips a batch and
//! sends only its description to the failure queue. [`run`] reads each message, reads the
//! range back from DynamoDB Streams ([`stream`]) and writes it through the function's own
//! handler, so the documents and their keys are exactly the function's; what the stream no
//! longer holds becomes a gap record ([`range`], pure), never silence.

pub mod range;
pub mod run;
pub mod stream;
