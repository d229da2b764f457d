//! One module per subcommand.

pub mod completions;
pub mod demo;
pub mod lifecycle;
pub mod previous;
pub mod sandbox;
pub mod tag;
