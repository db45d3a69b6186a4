//! The regular expressions of invoice2data templates. A pattern is compiled by the `regex` crate
//! (linear time) whenever it can be; only a pattern that crate refuses and that needs Python's
//! backtracking features (look-ahead `(?=`/`(?!`, look-behind `(?<=`/`(?<!`, back-references) is
//! compiled by `fancy-regex`, with bounds fit for a template nobody reviewed: a backtrack budget
//! per search ([`BACKTRACK_LIMIT`]) and size limits on the compiled program. A search that runs
//! out of budget is no match (logged), never a hang.

use thiserror::Error;

/// Backtracking steps allowed to one search of a backtracking pattern. An unanchored search
/// spends at least one step per start position tried, so this also bounds the text a
/// backtracking pattern is searched through without a match (a few hundred kilobytes).
pub const BACKTRACK_LIMIT: usize = 1_000_000;
/// Size limits of the compiled program (the same order as the `regex` crate's defaults).
const SIZE_LIMIT: usize = 10 * (1 << 20);
const DFA_SIZE_LIMIT: usize = 2 * (1 << 20);
const MAX_PROG_SIZE: usize = 100_000;

#[derive(Debug, Error)]
pub enum PatternError {
    #[error("{0}")]
    Syntax(String),
    #[error("backtracking search gave up: {0}")]
    Runtime(String),
}

/// A compiled template pattern.
#[derive(Debug, Clone)]
pub enum Regex {
    Plain(regex::Regex),
    Backtracking(Box<fancy_regex::Regex>),
}

/// A match: its byte offsets in the searched text and the matched text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'t> {
    text: &'t str,
    start: usize,
    end: usize,
}

impl<'t> Match<'t> {
    pub fn start(&self) -> usize {
        self.start
    }
    pub fn end(&self) -> usize {
        self.end
    }
    pub fn as_str(&self) -> &'t str {
        self.text
    }
}

impl<'t> From<regex::Match<'t>> for Match<'t> {
    fn from(m: regex::Match<'t>) -> Self {
        Match { text: m.as_str(), start: m.start(), end: m.end() }
    }
}

impl<'t> From<fancy_regex::Match<'t>> for Match<'t> {
    fn from(m: fancy_regex::Match<'t>) -> Self {
        Match { text: m.as_str(), start: m.start(), end: m.end() }
    }
}

/// The groups of one match.
#[derive(Debug)]
pub enum Captures<'t> {
    Plain(regex::Captures<'t>),
    Backtracking(fancy_regex::Captures<'t, str>),
}

impl<'t> Captures<'t> {
    pub fn get(&self, i: usize) -> Option<Match<'t>> {
        match self {
            Captures::Plain(c) => c.get(i).map(Match::from),
            Captures::Backtracking(c) => c.get(i).map(Match::from),
        }
    }
    pub fn name(&self, name: &str) -> Option<Match<'t>> {
        match self {
            Captures::Plain(c) => c.name(name).map(Match::from),
            Captures::Backtracking(c) => c.name(name).map(Match::from),
        }
    }
    /// `$name`, `${name}`, `$1` replaced by the groups (the same syntax for both engines).
    pub fn expand(&self, replacement: &str, dst: &mut String) {
        match self {
            Captures::Plain(c) => c.expand(replacement, dst),
            Captures::Backtracking(c) => c.expand(replacement, dst),
        }
    }
}

/// A backtracking search that gave up: logged, and taken as no match.
fn gave_up<T>(re: &fancy_regex::Regex, r: Result<T, fancy_regex::Error>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(pattern = re.as_str(), error = %e, "template pattern search gave up: no match");
            None
        }
    }
}

impl Regex {
    /// Compile with the `regex` crate, or with bounded backtracking when only that can.
    pub fn new(pattern: &str) -> Result<Regex, PatternError> {
        match regex::Regex::new(pattern) {
            Ok(r) => Ok(Regex::Plain(r)),
            Err(plain) => {
                let needs_backtracking =
                    ["(?=", "(?!", "(?<=", "(?<!", "(?P="].iter().any(|p| pattern.contains(p))
                        || fancy_regex::Regex::new(r"\\[1-9]|\\k<")
                            .ok()
                            .and_then(|r| r.is_match(pattern).ok())
                            .unwrap_or(false);
                if !needs_backtracking {
                    return Err(PatternError::Syntax(plain.to_string()));
                }
                fancy_regex::RegexBuilder::new(pattern)
                    .backtrack_limit(BACKTRACK_LIMIT)
                    .delegate_size_limit(SIZE_LIMIT)
                    .delegate_dfa_size_limit(DFA_SIZE_LIMIT)
                    .max_prog_size(MAX_PROG_SIZE)
                    .build()
                    .map(|r| Regex::Backtracking(Box::new(r)))
                    .map_err(|e| PatternError::Syntax(e.to_string()))
            }
        }
    }

    /// Compiled with bounded backtracking (Python look-arounds or back-references)?
    pub fn is_backtracking(&self) -> bool {
        matches!(self, Regex::Backtracking(_))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Regex::Plain(r) => r.as_str(),
            Regex::Backtracking(r) => r.as_str(),
        }
    }

    /// The first match, or the typed reason a backtracking search gave up.
    pub fn try_find<'t>(&self, s: &'t str) -> Result<Option<Match<'t>>, PatternError> {
        match self {
            Regex::Plain(r) => Ok(r.find(s).map(Match::from)),
            Regex::Backtracking(r) => {
                r.find(s).map(|m| m.map(Match::from)).map_err(|e| PatternError::Runtime(e.to_string()))
            }
        }
    }

    pub fn find<'t>(&self, s: &'t str) -> Option<Match<'t>> {
        match self {
            Regex::Plain(r) => r.find(s).map(Match::from),
            Regex::Backtracking(r) => gave_up(r, r.find(s)).flatten().map(Match::from),
        }
    }

    pub fn is_match(&self, s: &str) -> bool {
        match self {
            Regex::Plain(r) => r.is_match(s),
            Regex::Backtracking(r) => gave_up(r, r.is_match(s)).unwrap_or(false),
        }
    }

    pub fn captures<'t>(&self, s: &'t str) -> Option<Captures<'t>> {
        match self {
            Regex::Plain(r) => r.captures(s).map(Captures::Plain),
            Regex::Backtracking(r) => gave_up(r, r.captures(s)).flatten().map(Captures::Backtracking),
        }
    }

    /// Every non-overlapping match's groups; a backtracking search that gives up ends the list.
    pub fn captures_iter<'r, 't>(&'r self, s: &'t str) -> Box<dyn Iterator<Item = Captures<'t>> + 'r>
    where
        't: 'r,
    {
        match self {
            Regex::Plain(r) => Box::new(r.captures_iter(s).map(Captures::Plain)),
            Regex::Backtracking(r) => {
                Box::new(r.captures_iter(s).map_while(|c| gave_up(r, c)).map(Captures::Backtracking))
            }
        }
    }

    /// Every non-overlapping match; a backtracking search that gives up ends the list.
    pub fn find_iter<'r, 't>(&'r self, s: &'t str) -> Box<dyn Iterator<Item = Match<'t>> + 'r>
    where
        't: 'r,
    {
        match self {
            Regex::Plain(r) => Box::new(r.find_iter(s).map(Match::from)),
            Regex::Backtracking(r) => Box::new(r.find_iter(s).map_while(|m| gave_up(r, m)).map(Match::from)),
        }
    }

    /// The group names, `None` for unnamed groups (group 0 first), as `regex` gives them.
    pub fn capture_names(&self) -> Box<dyn Iterator<Item = Option<&str>> + '_> {
        match self {
            Regex::Plain(r) => Box::new(r.capture_names()),
            Regex::Backtracking(r) => Box::new(r.capture_names()),
        }
    }
}
