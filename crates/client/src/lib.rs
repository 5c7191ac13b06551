//! porthole-client: the application layer the CLI and the desktop app share.
#![forbid(unsafe_code)]
