//! `dlspec explain [CODE]`: what a diagnostic code means, with an example of the fix.

use std::io::Write as _;

use serde::Serialize;

use super::args::ExplainArgs;
use super::output::print_json;
use crate::diag::{Code, Format, explain};
use crate::error::Error;

/// `explain --format json`: every code, or one code and its text.
#[derive(Serialize)]
#[serde(untagged)]
enum Explained {
    All { command: &'static str, ok: bool, codes: &'static [Code] },
    One { command: &'static str, ok: bool, code: Code, text: &'static str },
}

pub(super) fn run(args: &ExplainArgs) -> Result<u8, Error> {
    let code = match &args.code {
        None => None,
        Some(text) => Some(text.parse::<Code>().map_err(|unknown| unknown_code(text, unknown.nearest))?),
    };
    if args.format == Format::Json {
        print_json(&match code {
            None => Explained::All { command: "explain", ok: true, codes: Code::ALL },
            Some(code) => Explained::One { command: "explain", ok: true, code, text: explain::explain(code) },
        });
        return Ok(0);
    }
    let mut out = std::io::stdout().lock();
    let Some(code) = code else {
        let width = Code::ALL.iter().map(|c| c.as_str().len()).max().unwrap_or(0);
        for code in Code::ALL {
            let _ = writeln!(out, "{code:<width$}  {}", code.summary());
        }
        let _ = writeln!(out, "\n`dlspec explain CODE` explains one; docs/diagnostics.md has them all");
        return Ok(0);
    };
    let _ = writeln!(out, "{code}\n\n{}", explain::explain(code));
    Ok(0)
}

fn unknown_code(code: &str, nearest: Option<Code>) -> Error {
    Error::Usage(match nearest {
        Some(best) => format!("unknown code `{code}`; did you mean `{best}`?"),
        None => format!("unknown code `{code}`; `dlspec explain` lists the codes"),
    })
}
