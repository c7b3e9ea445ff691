//! A small command-line parser: `--name value`, `--name=value`, boolean
//! `--flag`s, positionals, and `--` to end the options. Every mistake is a usage
//! error naming the option.

use crate::fail::Failure;

/// One option a command accepts.
pub(crate) struct Opt {
    pub(crate) name: &'static str,
    pub(crate) takes_value: bool,
    /// May be given more than once (values are collected in order).
    pub(crate) repeat: bool,
}

pub(crate) const fn flag(name: &'static str) -> Opt {
    Opt {
        name,
        takes_value: false,
        repeat: false,
    }
}

pub(crate) const fn value(name: &'static str) -> Opt {
    Opt {
        name,
        takes_value: true,
        repeat: false,
    }
}

pub(crate) const fn values(name: &'static str) -> Opt {
    Opt {
        name,
        takes_value: true,
        repeat: true,
    }
}

/// The parsed command line of one command.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) positionals: Vec<String>,
    options: Vec<(&'static str, Option<String>)>,
}

impl Parsed {
    /// Whether a boolean flag was given.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| *n == name)
    }

    /// The value of an option given at most once.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Every value of a repeatable option, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.options
            .iter()
            .filter(|(n, _)| *n == name)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }

    /// The value of a required option.
    pub(crate) fn require(&self, name: &str, command: &str) -> Result<&str, Failure> {
        self.get(name).ok_or_else(|| {
            Failure::usage(format!(
                "`paywire {command}` needs --{name} (see `paywire {command} --help`)"
            ))
        })
    }

    /// The value of an option parsed as an unsigned integer.
    pub(crate) fn u64(&self, name: &str) -> Result<Option<u64>, Failure> {
        self.get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    Failure::usage(format!("--{name}: {v:?} is not a non-negative integer"))
                })
            })
            .transpose()
    }

    /// The single positional argument, or a usage error saying what is missing.
    pub(crate) fn one_positional(&self, what: &str, command: &str) -> Result<&str, Failure> {
        match self.positionals.as_slice() {
            [one] => Ok(one),
            [] => Err(Failure::usage(format!(
                "`paywire {command}` needs {what} (see `paywire {command} --help`)"
            ))),
            [_, extra, ..] => Err(Failure::usage(format!(
                "`paywire {command}` takes one {what}; unexpected extra argument {extra:?} \
                 (quote a value that contains spaces)"
            ))),
        }
    }
}

/// Parses `args` (without the program and command names) against `spec`.
/// `--help`/`-h` is always accepted and reported as the flag `help`.
pub(crate) fn parse(args: &[String], spec: &[Opt], command: &str) -> Result<Parsed, Failure> {
    let mut parsed = Parsed::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            parsed.positionals.extend(rest.by_ref().cloned());
            break;
        }
        if arg == "-h" || arg == "--help" {
            parsed.options.push(("help", None));
            continue;
        }
        let Some(body) = arg.strip_prefix("--") else {
            // `-x` is a mistyped option; a longer value may start with `-`
            // (URL-safe base64, which `decode` then diagnoses).
            if arg.len() == 2 && arg.starts_with('-') {
                return Err(Failure::usage(format!(
                    "unknown option {arg:?} for `paywire {command}` (options are spelt --name; \
                     see `paywire {command} --help`)"
                )));
            }
            parsed.positionals.push(arg.clone());
            continue;
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(opt) = spec.iter().find(|o| o.name == name) else {
            return Err(Failure::usage(format!(
                "unknown option --{name} for `paywire {command}` (see `paywire {command} --help`)"
            )));
        };
        if !opt.repeat && parsed.options.iter().any(|(n, _)| *n == opt.name) {
            return Err(Failure::usage(format!("--{name} is given twice")));
        }
        let value = match (opt.takes_value, inline) {
            (true, Some(v)) => Some(v),
            (true, None) => match rest.next() {
                Some(v) => Some(v.clone()),
                None => {
                    return Err(Failure::usage(format!("--{name} needs a value")));
                }
            },
            (false, Some(_)) => {
                return Err(Failure::usage(format!("--{name} takes no value")));
            }
            (false, None) => None,
        };
        parsed.options.push((opt.name, value));
    }
    Ok(parsed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    const SPEC: &[Opt] = &[value("key-file"), flag("json"), values("network")];

    #[test]
    fn forms() {
        let p = parse(
            &args(&[
                "--key-file",
                "k",
                "x",
                "--json",
                "--network=a",
                "--network",
                "b",
                "--",
                "--y",
            ]),
            SPEC,
            "pay",
        )
        .unwrap();
        assert_eq!(p.get("key-file"), Some("k"));
        assert!(p.has("json"));
        assert_eq!(p.all("network"), ["a", "b"]);
        assert_eq!(p.positionals, ["x", "--y"]);
    }

    #[test]
    fn mistakes_name_the_option() {
        for (a, want) in [
            (&["--nope"][..], "--nope"),
            (&["--key-file"][..], "--key-file needs a value"),
            (&["--json=1"][..], "--json takes no value"),
            (&["--key-file", "a", "--key-file", "b"][..], "given twice"),
            (&["-x"][..], "\"-x\""),
        ] {
            let e = parse(&args(a), SPEC, "pay").unwrap_err();
            assert!(e.message.contains(want), "{a:?}: {}", e.message);
            assert_eq!(e.code, 2);
        }
    }

    #[test]
    fn dash_is_a_positional() {
        let p = parse(&args(&["-"]), SPEC, "decode").unwrap();
        assert_eq!(p.positionals, ["-"]);
    }
}
