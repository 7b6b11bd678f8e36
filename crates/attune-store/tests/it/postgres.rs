//! (postgres tests follow)
