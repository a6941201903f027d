//! dlspec compiles KDL specs of deep-learning container images into build directories.
//!
//! The pipeline, one module per stage, data flowing one way:
//! [`source`] (find and read specs) → [`syntax`] (parse KDL) → [`lang`] (the language: spanned
//! settings) → [`resolve`] (profiles, matrix) → [`check`] (defaults, compatibility, all errors at
//! once, giving [`model::Image`]s) → [`plan`] (the output files, one image at a time, via
//! [`render`]) → [`emit`] (write, or diff for `--check`). Problems of every stage are
//! [`diag::Diag`]s. Each framework is a module of [`framework`], each service a module of
//! [`service`]: their nodes, rules and output, which every stage takes from there. [`pipeline`]
//! drives the stages over a catalog; [`cli`] and [`init`] are the commands. Each module uses only
//! the modules below it (the order is in `docs/architecture.md`, and `tests/architecture.rs`
//! holds every module to it).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod check;
pub mod cli;
pub mod compat;
pub mod diag;
pub mod emit;
pub mod error;
pub mod files;
pub mod framework;
pub mod git;
pub mod init;
pub mod lang;
pub mod lock;
pub mod model;
pub mod parallel;
pub mod pipeline;
pub mod plan;
pub mod registry;
pub mod render;
pub mod resolve;
pub mod service;
pub mod source;
pub mod syntax;
pub mod values;
