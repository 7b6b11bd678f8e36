//! placeholder, filled in by the data-foundation work.
