//! Integration tests of the sandbox, in one binary to keep link times down.

mod api;
mod api_support;
mod watcher;
