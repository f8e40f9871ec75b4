//! What `CreateProcessW` takes, built from what the protocol carries: the
//! command line from an argv, the environment block from name-value pairs,
//! and the input a pseudo-console expects from the bytes a client sends.
//!
//! A Windows program receives one string and splits it itself; nearly all
//! use the rules of the Microsoft C runtime, which `CommandLineToArgvW`
//! shares. [`command_line`] quotes so that those rules give back exactly the
//! argv the client sent.
//!
//! A batch file (`.bat`, `.cmd`) is different: `CreateProcessW` runs it
//! through `cmd.exe`, which reads the whole line with its own rules, where
//! `&`, `|`, `<`, `>`, `^` and `%` outside quotes are commands, not text, and
//! C-runtime quoting does not hold (`a"&calc` would run `calc`, the
//! CVE-2024-24576 class). [`batch_command_line`] builds the line for
//! `cmd.exe` explicitly, quoting as Rust's standard library does since that
//! CVE, and refuses what cannot be passed safely.
//!
//! `cmd.exe /c STRING` itself (a shell string, as cordon's exec sessions
//! send) is the third case: cmd.exe reads what follows `/c` as a command
//! line, so STRING must reach it as it is, and C-runtime quoting would turn
//! each `"` in it into `\"`, which cmd.exe does not undo
//! ([`cmd_string_line`]). Everything here is pure and tested on every OS.

use std::collections::BTreeMap;
use std::fmt;

/// Longest command line `CreateProcessW` accepts, in UTF-16 units with the
/// terminating NUL.
pub const MAX_COMMAND_LINE: usize = 32_767;

/// Why an argv or an environment cannot be given to `CreateProcessW`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLineError {
    /// There is no program.
    EmptyArgv,
    /// The program name is empty.
    EmptyProgram,
    /// An argument holds a NUL, which would end the command line early.
    Nul {
        /// Which argument (0 is the program).
        index: usize,
    },
    /// The program name holds `"`: the C runtime reads the program name up
    /// to the next quote, without escapes, so it cannot be passed through.
    QuoteInProgram,
    /// The command line is longer than [`MAX_COMMAND_LINE`].
    TooLong {
        /// Its length, in UTF-16 units with the NUL.
        len: usize,
    },
    /// An environment variable name that is empty, holds a NUL, or holds `=`
    /// anywhere but first (as in `=C:`).
    InvalidEnvName {
        /// The name.
        name: String,
    },
    /// An environment variable value that holds a NUL.
    NulInEnvValue {
        /// The variable's name.
        name: String,
    },
    /// An argument for a batch file that holds a carriage return or a line
    /// feed: `cmd.exe` would end the command there and read the rest as
    /// another.
    BatchNewline {
        /// Which argument (1 is the first after the script).
        index: usize,
    },
    /// A batch file's path that holds `"` or ends with `\`, which no
    /// Windows file name does and which would end its quotes early.
    BatchScriptName,
}

impl fmt::Display for CommandLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandLineError::EmptyArgv => f.write_str("no program to run: argv is empty"),
            CommandLineError::EmptyProgram => f.write_str("the program name (argv[0]) is empty"),
            CommandLineError::Nul { index } => write!(f, "argv[{index}] contains a NUL character"),
            CommandLineError::QuoteInProgram => {
                f.write_str("the program name (argv[0]) contains '\"', which Windows cannot pass")
            }
            CommandLineError::TooLong { len } => {
                write!(f, "the command line is {len} characters; Windows accepts at most {MAX_COMMAND_LINE}")
            }
            CommandLineError::InvalidEnvName { name } => {
                write!(f, "{name:?} is not an environment variable name (empty, NUL, or '=' inside)")
            }
            CommandLineError::NulInEnvValue { name } => {
                write!(f, "the value of environment variable {name} contains a NUL character")
            }
            CommandLineError::BatchNewline { index } => write!(
                f,
                "argv[{index}] contains a line break, which cmd.exe cannot pass to a batch file safely"
            ),
            CommandLineError::BatchScriptName => {
                f.write_str("the batch file's path contains '\"' or ends with '\\'")
            }
        }
    }
}

impl std::error::Error for CommandLineError {}

/// Appends `arg` to `out` as one argument by the rules of the C runtime and
/// `CommandLineToArgvW`: as it is when it has no whitespace or `"` and is
/// not empty; otherwise in quotes, with each `"` escaped by a backslash and
/// the backslashes before a `"` (or before the closing quote) doubled.
/// Other backslashes stay single.
///
/// Space and tab separate arguments; newline and vertical tab do not, but
/// are quoted too, as some programs split on them.
pub fn quote_arg(arg: &str, out: &mut String) {
    if !arg.is_empty() && !arg.contains([' ', '\t', '\n', '\x0b', '"']) {
        out.push_str(arg);
        return;
    }
    out.push('"');
    let mut backslashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                push_backslashes(out, 2 * backslashes + 1);
                out.push('"');
                backslashes = 0;
            }
            _ => {
                push_backslashes(out, backslashes);
                out.push(c);
                backslashes = 0;
            }
        }
    }
    push_backslashes(out, 2 * backslashes);
    out.push('"');
}

fn push_backslashes(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n('\\', n));
}

/// The command line for `argv`, UTF-16 and NUL-terminated, ready for
/// `CreateProcessW`.
///
/// The program is always quoted, without escapes (the C runtime reads it up
/// to the next `"`): with `lpApplicationName` null, `CreateProcessW` would
/// otherwise try `C:\Program.exe` for `C:\Program Files\x.exe`.
pub fn command_line(argv: &[String]) -> Result<Vec<u16>, CommandLineError> {
    let (program, args) = argv.split_first().ok_or(CommandLineError::EmptyArgv)?;
    if let Some(index) = argv.iter().position(|arg| arg.contains('\0')) {
        return Err(CommandLineError::Nul { index });
    }
    if program.is_empty() {
        return Err(CommandLineError::EmptyProgram);
    }
    if program.contains('"') {
        return Err(CommandLineError::QuoteInProgram);
    }
    let mut line = String::with_capacity(argv.iter().map(|arg| arg.len() + 3).sum());
    line.push('"');
    line.push_str(program);
    line.push('"');
    for arg in args {
        line.push(' ');
        quote_arg(arg, &mut line);
    }
    let wide: Vec<u16> = line.encode_utf16().chain([0]).collect();
    if wide.len() > MAX_COMMAND_LINE {
        return Err(CommandLineError::TooLong { len: wide.len() });
    }
    Ok(wide)
}

/// Whether `program` is a batch file, which `CreateProcessW` would run
/// through `cmd.exe`: its name ends in `.bat` or `.cmd`, in any case, also
/// once the trailing dots and spaces Windows ignores in a file name are
/// taken off (`x.bat.` opens `x.bat`).
pub fn is_batch_file(program: &str) -> bool {
    let name = program.trim_end_matches(['.', ' ']).to_ascii_lowercase();
    name.ends_with(".bat") || name.ends_with(".cmd")
}

/// The ASCII characters an argument of a batch file may hold without
/// quotes; everything else ASCII but letters and digits is quoted.
const BATCH_UNQUOTED: &str = r"#$*+-./:?@\_";

/// What `%` becomes in a batch file's argument: `%%cd:~,%` (an empty
/// substring of the built-in `%cd%`) and then the `%`. `cmd.exe` expands
/// variables inside quotes too; the empty expansion in front keeps it from
/// seeing `%NAME%` (the trick of Rust's standard library).
const PERCENT_GUARD: &str = "%%cd:~,";

/// Appends `arg` to `out` as one argument of a batch file: in quotes when
/// it is empty, ends with `\`, or holds any ASCII character but letters,
/// digits and [`BATCH_UNQUOTED`] (or a control character); inside, `"` is
/// doubled (with the backslashes before it doubled), every `%` is preceded
/// by [`PERCENT_GUARD`], and backslashes before the closing quote are
/// doubled. `cmd.exe` then sees every special character inside quotes.
pub fn quote_batch_arg(arg: &str, out: &mut String) {
    let quote = arg.is_empty()
        || arg.ends_with('\\')
        || arg.chars().any(|c| {
            (c.is_ascii() && !c.is_ascii_alphanumeric() && !BATCH_UNQUOTED.contains(c)) || c.is_control()
        });
    if quote {
        out.push('"');
    }
    let mut backslashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => {
                backslashes += 1;
                out.push(c);
                continue;
            }
            '"' => {
                push_backslashes(out, backslashes);
                out.push('"');
            }
            '%' => out.push_str(PERCENT_GUARD),
            _ => {}
        }
        backslashes = 0;
        out.push(c);
    }
    if quote {
        push_backslashes(out, backslashes);
        out.push('"');
    }
}

/// The command line that runs the batch file `script` with `args` through
/// `cmd.exe` (give the system's `cmd.exe` as `lpApplicationName`, never
/// the batch file): `cmd.exe /e:ON /v:OFF /d /c ""SCRIPT" ARGS"`, command
/// extensions on (the `%` guard needs them), delayed expansion off (no
/// `!NAME!`), no AutoRun, and the whole command in one more pair of quotes,
/// which `/c` takes off. Each argument is quoted by [`quote_batch_arg`].
///
/// Refused: a line break in an argument, a script path with `"` or a
/// trailing `\`, a NUL anywhere, a line longer than [`MAX_COMMAND_LINE`].
///
/// ```
/// use cordon_sandbox::windows::command_line::batch_command_line;
///
/// let line = batch_command_line(r"C:\x\t.bat", &[r#"a"&calc"#.to_string()])?;
/// let text = String::from_utf16(&line[..line.len() - 1]).unwrap();
/// assert_eq!(text, r#"cmd.exe /e:ON /v:OFF /d /c ""C:\x\t.bat" "a""&calc"""#);
/// # Ok::<(), cordon_sandbox::windows::command_line::CommandLineError>(())
/// ```
pub fn batch_command_line(script: &str, args: &[String]) -> Result<Vec<u16>, CommandLineError> {
    if script.is_empty() {
        return Err(CommandLineError::EmptyProgram);
    }
    if script.contains('"') || script.ends_with('\\') {
        return Err(CommandLineError::BatchScriptName);
    }
    if script.contains('\0') {
        return Err(CommandLineError::Nul { index: 0 });
    }
    for (i, arg) in args.iter().enumerate() {
        if arg.contains('\0') {
            return Err(CommandLineError::Nul { index: i + 1 });
        }
        if arg.contains(['\r', '\n']) {
            return Err(CommandLineError::BatchNewline { index: i + 1 });
        }
    }
    let mut line = String::from("cmd.exe /e:ON /v:OFF /d /c \"\"");
    line.push_str(script);
    line.push('"');
    for arg in args {
        line.push(' ');
        quote_batch_arg(arg, &mut line);
    }
    line.push('"');
    let wide: Vec<u16> = line.encode_utf16().chain([0]).collect();
    if wide.len() > MAX_COMMAND_LINE {
        return Err(CommandLineError::TooLong { len: wide.len() });
    }
    Ok(wide)
}

/// Whether `program` (a name or a path) is `cmd.exe`: its file name is
/// `cmd` or `cmd.exe`, in any case, trailing dots and spaces ignored.
pub fn is_cmd_exe(program: &str) -> bool {
    let name = program.rsplit(['\\', '/']).next().unwrap_or(program);
    let name = name.trim_end_matches(['.', ' ']).to_ascii_lowercase();
    name == "cmd" || name == "cmd.exe"
}

/// The line for `cmd.exe [SWITCHES] /c STRING`, where STRING is the last
/// argument and every switch a plain `/x` word: `"PROGRAM" SWITCHES /s /c
/// "STRING"`, STRING verbatim. With `/s`, cmd.exe takes off exactly the
/// first and the last quote of what follows `/c` and runs the rest as it
/// is, so `echo "a b"` prints `"a b"`. `None` for any other argument list,
/// which is quoted as for any program ([`command_line`]).
///
/// ```
/// use cordon_sandbox::windows::command_line::cmd_string_line;
///
/// let args = ["/c".to_string(), r#"echo "a b" & ver"#.to_string()];
/// let line = cmd_string_line(r"C:\Windows\system32\cmd.exe", &args).unwrap()?;
/// let text = String::from_utf16(&line[..line.len() - 1]).unwrap();
/// assert_eq!(text, r#""C:\Windows\system32\cmd.exe" /s /c "echo "a b" & ver""#);
/// # Ok::<(), cordon_sandbox::windows::command_line::CommandLineError>(())
/// ```
pub fn cmd_string_line(program: &str, args: &[String]) -> Option<Result<Vec<u16>, CommandLineError>> {
    let (string, rest) = args.split_last()?;
    let (slash_c, switches) = rest.split_last()?;
    let plain_switch = |arg: &String| {
        arg.len() >= 2
            && arg.starts_with('/')
            && arg[1..].chars().all(|c| c.is_ascii_alphanumeric() || c == ':')
    };
    if !slash_c.eq_ignore_ascii_case("/c") || !switches.iter().all(plain_switch) {
        return None;
    }
    Some(cmd_string_line_of(program, switches, string))
}

fn cmd_string_line_of(
    program: &str,
    switches: &[String],
    string: &str,
) -> Result<Vec<u16>, CommandLineError> {
    if program.is_empty() {
        return Err(CommandLineError::EmptyProgram);
    }
    if program.contains('"') {
        return Err(CommandLineError::QuoteInProgram);
    }
    if program.contains('\0') {
        return Err(CommandLineError::Nul { index: 0 });
    }
    if string.contains('\0') {
        return Err(CommandLineError::Nul { index: switches.len() + 2 });
    }
    let mut line = format!("\"{program}\"");
    for switch in switches {
        line.push(' ');
        line.push_str(switch);
    }
    line.push_str(" /s /c \"");
    line.push_str(string);
    line.push('"');
    let wide: Vec<u16> = line.encode_utf16().chain([0]).collect();
    if wide.len() > MAX_COMMAND_LINE {
        return Err(CommandLineError::TooLong { len: wide.len() });
    }
    Ok(wide)
}

/// The environment variables that name a user's profile, which a runner
/// started as another user (the sandbox user) must not be given: they are
/// the parent's user's, unreadable to it, and would send its commands'
/// temporary files there.
pub const PROFILE_VARIABLES: &[&str] =
    &["USERPROFILE", "TEMP", "TMP", "APPDATA", "LOCALAPPDATA", "HOMEPATH", "HOMEDRIVE"];

/// `env` without [`PROFILE_VARIABLES`] (names compared as Windows compares
/// them, in any case).
pub fn without_profile_variables(env: &[(String, String)]) -> Vec<(String, String)> {
    env.iter()
        .filter(|(name, _)| !PROFILE_VARIABLES.iter().any(|p| p.eq_ignore_ascii_case(name)))
        .cloned()
        .collect()
}

/// The profile variables of the user whose profile directory is `profile`,
/// laid out as Windows lays out a profile: what a runner started as the
/// sandbox user sets for itself and its commands.
///
/// ```
/// use cordon_sandbox::windows::command_line::profile_variables;
///
/// let vars = profile_variables(r"C:\Users\CordonSandboxOffline");
/// assert!(vars.contains(&("TEMP", r"C:\Users\CordonSandboxOffline\AppData\Local\Temp".to_string())));
/// ```
pub fn profile_variables(profile: &str) -> Vec<(&'static str, String)> {
    let profile = profile.trim_end_matches('\\');
    let temp = format!(r"{profile}\AppData\Local\Temp");
    vec![
        ("USERPROFILE", profile.to_string()),
        ("APPDATA", format!(r"{profile}\AppData\Roaming")),
        ("LOCALAPPDATA", format!(r"{profile}\AppData\Local")),
        ("TEMP", temp.clone()),
        ("TMP", temp),
    ]
}

/// The environment block for `env`, UTF-16, for `CreateProcessW` with
/// `CREATE_UNICODE_ENVIRONMENT`: `NAME=value\0` per variable, sorted by name
/// as Windows sorts it (by upper-cased UTF-16 units), then a final `\0`
/// (`\0\0` when empty). Names are case-insensitive: of several spellings of
/// one name, the last pair given wins.
pub fn environment_block(env: &[(String, String)]) -> Result<Vec<u16>, CommandLineError> {
    let mut sorted: BTreeMap<Vec<u16>, (&str, &str)> = BTreeMap::new();
    for (name, value) in env {
        let bad_name =
            name.is_empty() || name == "=" || name.contains('\0') || name.chars().skip(1).any(|c| c == '=');
        if bad_name {
            return Err(CommandLineError::InvalidEnvName { name: name.clone() });
        }
        if value.contains('\0') {
            return Err(CommandLineError::NulInEnvValue { name: name.clone() });
        }
        sorted.insert(name.encode_utf16().map(upcase).collect(), (name, value));
    }
    let mut block = Vec::new();
    for (name, value) in sorted.values() {
        block.extend(name.encode_utf16());
        block.push(u16::from(b'='));
        block.extend(value.encode_utf16());
        block.push(0);
    }
    if block.is_empty() {
        block.push(0);
    }
    block.push(0);
    Ok(block)
}

/// One UTF-16 unit upper-cased the way Windows compares names: by its
/// simple (one-to-one) upper-case mapping; surrogates and units without one
/// stay as they are.
fn upcase(unit: u16) -> u16 {
    let Some(c) = char::from_u32(u32::from(unit)) else {
        return unit;
    };
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u16::try_from(u32::from(u)).unwrap_or(unit),
        _ => unit,
    }
}

/// Client input made into what a pseudo-console expects to be typed: Enter
/// is `\r`, so `\n` becomes `\r` and `\r\n` a single `\r`, also when the
/// pair is split between two writes (`pending_cr` remembers that the last
/// write ended in `\r`; start it `false`). Other bytes pass unchanged.
pub fn normalize_pty_input(data: &[u8], pending_cr: &mut bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for &byte in data {
        let after_cr = std::mem::replace(pending_cr, false);
        match byte {
            b'\n' if after_cr => {}
            b'\n' => out.push(b'\r'),
            b'\r' => {
                out.push(b'\r');
                *pending_cr = true;
            }
            _ => out.push(byte),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The command line splitting of `CommandLineToArgvW` (and of the C
    /// runtime since 2008): the program up to the next `"` if it starts with
    /// one, else up to whitespace; then arguments separated by unquoted
    /// spaces and tabs, where `2n` backslashes and a `"` are `n` backslashes
    /// and a quote that opens or closes, `2n+1` backslashes and a `"` are
    /// `n` backslashes and a literal `"`, `""` inside quotes is a literal
    /// `"`, and other backslashes are literal.
    fn parse(line: &str) -> Vec<String> {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        let mut program = String::new();
        if chars.first() == Some(&'"') {
            i = 1;
            while i < chars.len() && chars[i] != '"' {
                program.push(chars[i]);
                i += 1;
            }
            i += 1;
        } else {
            while i < chars.len() && chars[i] != ' ' && chars[i] != '\t' {
                program.push(chars[i]);
                i += 1;
            }
        }
        let mut argv = vec![program];
        loop {
            while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
                i += 1;
            }
            if i >= chars.len() {
                return argv;
            }
            let mut arg = String::new();
            let mut quoted = false;
            while i < chars.len() {
                match chars[i] {
                    ' ' | '\t' if !quoted => break,
                    '\\' => {
                        let run = chars[i..].iter().take_while(|&&c| c == '\\').count();
                        i += run;
                        if chars.get(i) == Some(&'"') {
                            arg.extend(std::iter::repeat_n('\\', run / 2));
                            if run % 2 == 1 {
                                arg.push('"');
                                i += 1;
                            }
                        } else {
                            arg.extend(std::iter::repeat_n('\\', run));
                        }
                    }
                    '"' if quoted && chars.get(i + 1) == Some(&'"') => {
                        arg.push('"');
                        i += 2;
                    }
                    '"' => {
                        quoted = !quoted;
                        i += 1;
                    }
                    c => {
                        arg.push(c);
                        i += 1;
                    }
                }
            }
            argv.push(arg);
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn line_of(argv: &[&str]) -> String {
        let wide = command_line(&strings(argv)).unwrap();
        assert_eq!(wide.last(), Some(&0));
        String::from_utf16(&wide[..wide.len() - 1]).unwrap()
    }

    fn quoted(arg: &str) -> String {
        let mut out = String::new();
        quote_arg(arg, &mut out);
        out
    }

    fn block_text(env: &[(&str, &str)]) -> String {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        String::from_utf16(&environment_block(&env).unwrap()).unwrap()
    }

    // The examples of "Parsing C++ command-line arguments" (Microsoft), with
    // a program in front.
    fn cmd_line(program: &str, args: &[&str]) -> Option<String> {
        let line = cmd_string_line(program, &strings(args))?.unwrap();
        Some(String::from_utf16(&line[..line.len() - 1]).unwrap())
    }

    #[test]
    fn profile_variables_are_dropped_in_any_case_and_the_rest_kept() {
        let env: Vec<(String, String)> = [
            ("Path", r"C:\bin"),
            ("temp", r"C:\Users\me\T"),
            ("USERPROFILE", r"C:\Users\me"),
            ("LocalAppData", "x"),
            ("CORDON_LOG", "debug"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let kept = without_profile_variables(&env);
        assert_eq!(
            kept,
            [("Path".to_string(), r"C:\bin".to_string()), ("CORDON_LOG".into(), "debug".into())]
        );
    }

    #[test]
    fn a_profile_gives_every_profile_variable_but_the_home_drive() {
        let vars = profile_variables(r"C:\Users\sb\");
        let names: Vec<&str> = vars.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["USERPROFILE", "APPDATA", "LOCALAPPDATA", "TEMP", "TMP"]);
        assert!(names.iter().all(|n| PROFILE_VARIABLES.contains(n)));
        assert_eq!(vars[0].1, r"C:\Users\sb");
        assert_eq!(vars[3].1, r"C:\Users\sb\AppData\Local\Temp");
    }

    #[test]
    fn cmd_exe_is_known_by_its_file_name() {
        for name in ["cmd", "cmd.exe", "CMD.EXE", r"C:\Windows\System32\cmd.exe", "C:/x/Cmd.Exe", "cmd.exe. "]
        {
            assert!(is_cmd_exe(name), "{name}");
        }
        for name in ["cmdx.exe", r"C:\cmd\x.exe", "powershell.exe", "cmd.exe.bat", ""] {
            assert!(!is_cmd_exe(name), "{name}");
        }
    }

    #[test]
    fn a_shell_string_reaches_cmd_exe_as_it_is() {
        let cmd = r"C:\Windows\system32\cmd.exe";
        assert_eq!(
            cmd_line(cmd, &["/c", r#"echo "a b""#]).unwrap(),
            format!(r#""{cmd}" /s /c "echo "a b"""#)
        );
        // Quotes, backslashes before them, metacharacters and %: all verbatim,
        // for cmd.exe to read as the caller wrote them.
        let string = r#"if "%X%"=="" (echo "C:\dir\" ^& more) | find "x" > out.txt"#;
        assert_eq!(cmd_line("cmd", &["/C", string]).unwrap(), format!(r#""cmd" /s /c "{string}""#));
        assert_eq!(cmd_line("cmd", &["/d", "/e:on", "/c", "ver"]).unwrap(), r#""cmd" /d /e:on /s /c "ver""#);
        assert_eq!(cmd_line("cmd", &["/c", ""]).unwrap(), r#""cmd" /s /c """#);
    }

    #[test]
    fn other_argument_lists_to_cmd_exe_are_not_shell_strings() {
        for args in [
            &[][..],
            &["/c"],
            &["/k", "echo x"],
            &["/c", "echo", "x"],
            &["x y", "/c", "ver"],
            &["/c \"", "/c", "ver"],
        ] {
            assert_eq!(cmd_line("cmd.exe", args), None, "{args:?}");
        }
    }

    #[test]
    fn a_shell_string_with_a_nul_is_refused() {
        let err = cmd_string_line("cmd", &strings(&["/c", "echo \0x"])).unwrap().unwrap_err();
        assert_eq!(err, CommandLineError::Nul { index: 2 });
        let err = cmd_string_line("c\"md", &strings(&["/c", "ver"])).unwrap().unwrap_err();
        assert_eq!(err, CommandLineError::QuoteInProgram);
    }

    #[test]
    fn documented_examples_parse_as_documented() {
        let examples: [(&str, &[&str]); 6] = [
            ("a b c", &["a", "b", "c"]),
            (r#""a b c" d e"#, &["a b c", "d", "e"]),
            (r#""ab\"c" "\\" d"#, &["ab\"c", "\\", "d"]),
            (r#"a\\\b d"e f"g h"#, &[r"a\\\b", "de fg", "h"]),
            (r#"a\\\"b c d"#, &[r#"a\"b"#, "c", "d"]),
            (r#"a\\\\"b c" d e"#, &[r"a\\b c", "d", "e"]),
        ];
        for (line, args) in examples {
            assert_eq!(parse(&format!("prog {line}"))[1..], strings(args)[..], "{line}");
        }
    }

    #[test]
    fn documented_examples_quote_to_lines_that_parse_back() {
        assert_eq!(line_of(&["prog", "a", "b", "c"]), r#""prog" a b c"#);
        assert_eq!(line_of(&["prog", "a b c", "d", "e"]), r#""prog" "a b c" d e"#);
        assert_eq!(line_of(&["prog", "ab\"c", "\\", "d"]), r#""prog" "ab\"c" \ d"#);
        assert_eq!(line_of(&["prog", r"a\\\b", "de fg", "h"]), r#""prog" a\\\b "de fg" h"#);
        assert_eq!(line_of(&["prog", r#"a\"b"#, "c", "d"]), r#""prog" "a\\\"b" c d"#);
        assert_eq!(line_of(&["prog", r"a\\b c", "d", "e"]), r#""prog" "a\\b c" d e"#);
    }

    #[test]
    fn trailing_backslash_in_a_quoted_argument_is_doubled() {
        assert_eq!(quoted(r"C:\dir with space\"), r#""C:\dir with space\\""#);
        assert_eq!(parse(&format!("p {}", quoted(r"C:\dir with space\")))[1], r"C:\dir with space\");
    }

    #[test]
    fn backslashes_not_before_a_quote_stay_single() {
        assert_eq!(quoted(r"C:\dir\file"), r"C:\dir\file");
        assert_eq!(quoted(r"C:\dir\"), r"C:\dir\");
        assert_eq!(quoted(r"a b\c"), r#""a b\c""#);
    }

    #[test]
    fn empty_argument_is_two_quotes() {
        assert_eq!(quoted(""), r#""""#);
        assert_eq!(parse(&line_of(&["prog", "", "x", ""])), strings(&["prog", "", "x", ""]));
    }

    #[test]
    fn whitespace_and_quotes_are_quoted() {
        assert_eq!(quoted("a\tb"), "\"a\tb\"");
        assert_eq!(quoted("a\nb"), "\"a\nb\"");
        assert_eq!(quoted(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(quoted("plain"), "plain");
    }

    #[test]
    fn program_is_quoted_without_escapes() {
        assert_eq!(line_of(&[r"C:\Program Files\x.exe", "a"]), r#""C:\Program Files\x.exe" a"#);
        assert_eq!(line_of(&[r"C:\dir\", "a"]), r#""C:\dir\" a"#);
        assert_eq!(parse(&line_of(&[r"C:\dir\", "a"])), strings(&[r"C:\dir\", "a"]));
    }

    #[test]
    fn command_line_is_nul_terminated_utf16() {
        let wide = command_line(&strings(&["prog", "é"])).unwrap();
        assert_eq!(wide, "\"prog\" é\0".encode_utf16().collect::<Vec<u16>>());
    }

    #[test]
    fn argv_that_windows_cannot_carry_is_refused() {
        assert_eq!(command_line(&[]), Err(CommandLineError::EmptyArgv));
        assert_eq!(command_line(&strings(&["", "a"])), Err(CommandLineError::EmptyProgram));
        assert_eq!(command_line(&strings(&["prog", "a\0b"])), Err(CommandLineError::Nul { index: 1 }));
        assert_eq!(command_line(&strings(&["pr\0og"])), Err(CommandLineError::Nul { index: 0 }));
        assert_eq!(command_line(&strings(&["a\"b"])), Err(CommandLineError::QuoteInProgram));
        let long = "x".repeat(MAX_COMMAND_LINE);
        assert!(matches!(command_line(&["prog".into(), long]), Err(CommandLineError::TooLong { .. })));
        let fits = "x".repeat(MAX_COMMAND_LINE - "\"prog\" \0".len());
        assert!(command_line(&["prog".into(), fits]).is_ok());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(CommandLineError::Nul { index: 2 }.to_string(), "argv[2] contains a NUL character");
        let err = CommandLineError::InvalidEnvName { name: "A=B".into() };
        assert!(err.to_string().contains("\"A=B\""), "{err}");
    }

    #[test]
    fn environment_is_sorted_case_insensitively_and_doubly_terminated() {
        let text = block_text(&[("b", "2"), ("Path", r"C:\bin"), ("A", "1"), ("_x", "u")]);
        assert_eq!(text, "A=1\0b=2\0Path=C:\\bin\0_x=u\0\0");
    }

    #[test]
    fn environment_sorts_by_upper_case_units() {
        // '_' (0x5F) lies between the upper-case and the lower-case
        // letters: upper-cased, `aa` comes before `a_`, where an ordinal or
        // lower-cased comparison would put it after.
        assert_eq!(block_text(&[("a_", "1"), ("aa", "2")]), "aa=2\0a_=1\0\0");
        assert_eq!(block_text(&[("A_", "2"), ("ab", "1")]), "ab=1\0A_=2\0\0");
    }

    #[test]
    fn duplicate_names_keep_the_last_pair() {
        let text = block_text(&[("PATH", "first"), ("x", "1"), ("Path", "second")]);
        assert_eq!(text, "Path=second\0x=1\0\0");
    }

    #[test]
    fn empty_environment_is_two_nuls() {
        assert_eq!(environment_block(&[]).unwrap(), vec![0, 0]);
    }

    #[test]
    fn drive_directory_variables_keep_their_leading_equals() {
        let text = block_text(&[("=C:", r"C:\work"), ("A", "1")]);
        assert_eq!(text, "=C:=C:\\work\0A=1\0\0");
        assert_eq!(block_text(&[("X", "a=b")]), "X=a=b\0\0");
    }

    #[test]
    fn environment_that_windows_cannot_carry_is_refused() {
        for name in ["", "=", "A=B", "=C:=", "A\0B"] {
            let env = vec![(name.to_string(), "v".to_string())];
            assert_eq!(
                environment_block(&env),
                Err(CommandLineError::InvalidEnvName { name: name.into() }),
                "{name:?}"
            );
        }
        let env = vec![("A".to_string(), "v\0w".to_string())];
        assert_eq!(environment_block(&env), Err(CommandLineError::NulInEnvValue { name: "A".into() }));
    }

    #[test]
    fn newline_from_a_client_is_enter() {
        let mut pending = false;
        assert_eq!(normalize_pty_input(b"ls\n", &mut pending), b"ls\r");
        assert!(!pending);
        assert_eq!(normalize_pty_input(b"a\r\nb\n\nc\r", &mut pending), b"a\rb\r\rc\r");
        assert!(pending);
    }

    #[test]
    fn crlf_split_across_writes_is_one_enter() {
        let mut pending = false;
        assert_eq!(normalize_pty_input(b"echo hi\r", &mut pending), b"echo hi\r");
        assert!(pending);
        assert_eq!(normalize_pty_input(b"\nls", &mut pending), b"ls");
        assert!(!pending);
        // A lone \r stays Enter; what follows it is typed as usual.
        assert_eq!(normalize_pty_input(b"\r", &mut pending), b"\r");
        assert_eq!(normalize_pty_input(b"x", &mut pending), b"x");
        assert_eq!(normalize_pty_input(b"", &mut pending), b"");
    }

    #[test]
    fn other_input_bytes_pass_unchanged() {
        let mut pending = false;
        let bytes: Vec<u8> = (0..=255u8).filter(|b| *b != b'\n' && *b != b'\r').collect();
        assert_eq!(normalize_pty_input(&bytes, &mut pending), bytes);
    }

    fn arg_char() -> impl Strategy<Value = char> {
        prop_oneof![
            Just('\\'),
            Just('"'),
            Just(' '),
            Just('\t'),
            Just('a'),
            Just('\n'),
            any::<char>().prop_filter("no NUL", |c| *c != '\0'),
        ]
    }

    fn arg() -> impl Strategy<Value = String> {
        prop::collection::vec(arg_char(), 0..12).prop_map(|chars| chars.into_iter().collect())
    }

    fn program() -> impl Strategy<Value = String> {
        prop::collection::vec(arg_char().prop_filter("no quote", |c| *c != '"'), 1..12)
            .prop_map(|chars| chars.into_iter().collect())
    }

    /// How `cmd.exe` reads the line of [`batch_command_line`], as far as
    /// injection goes: `/c` takes off the first character and the last
    /// `"` (the line has more than two quotes); `%NAME%` is expanded
    /// wherever it is, quotes or not, with every name taken as defined
    /// (the caller's environment is anyone's) and `cd:~,` expanding to
    /// nothing; then `"` toggles quoting and `^` outside quotes escapes the
    /// next character. Returns the metacharacters (`&|<>()`) seen outside
    /// quotes and the names expanded.
    fn cmd_reads(line: &str) -> (Vec<char>, Vec<String>) {
        let command = line.split_once(" /c ").expect("a /c command").1;
        let last = command.rfind('"').expect("a closing quote");
        let stripped: String = command[1..last].to_string() + &command[last + 1..];
        let chars: Vec<char> = stripped.chars().collect();
        let (mut expanded, mut names) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '%'
                && let Some(len) = chars[i + 1..].iter().position(|&c| c == '%')
                && len > 0
            {
                let name: String = chars[i + 1..i + 1 + len].iter().collect();
                if name != "cd:~," {
                    names.push(name);
                }
                i += len + 2;
                continue;
            }
            expanded.push(chars[i]);
            i += 1;
        }
        let (mut quoted, mut exposed) = (false, Vec::new());
        let mut chars = expanded.into_iter();
        while let Some(c) = chars.next() {
            match c {
                '"' => quoted = !quoted,
                '^' if !quoted => {
                    chars.next();
                }
                '&' | '|' | '<' | '>' | '(' | ')' if !quoted => exposed.push(c),
                _ => {}
            }
        }
        (exposed, names)
    }

    fn batch_line(args: &[&str]) -> String {
        let wide = batch_command_line(r"C:\x\t.bat", &strings(args)).unwrap();
        String::from_utf16(&wide[..wide.len() - 1]).unwrap()
    }

    fn batch_arg(arg: &str) -> String {
        let mut out = String::new();
        quote_batch_arg(arg, &mut out);
        out
    }

    #[test]
    fn batch_files_are_known_by_their_extension_in_any_case() {
        for name in [r"C:\x\t.bat", r"C:\x\t.CMD", "t.Bat", "t.bat.", "t.cmd . ."] {
            assert!(is_batch_file(name), "{name}");
        }
        for name in ["t.exe", "t.bat.exe", "bat", "t.com", r"C:\x.bat\t.exe"] {
            assert!(!is_batch_file(name), "{name}");
        }
    }

    #[test]
    fn a_batch_file_runs_through_cmd_with_extensions_on_and_expansion_off() {
        assert_eq!(batch_line(&[]), r#"cmd.exe /e:ON /v:OFF /d /c ""C:\x\t.bat"""#);
        assert_eq!(
            batch_line(&["plain", "C:/a-b_c.txt"]),
            r#"cmd.exe /e:ON /v:OFF /d /c ""C:\x\t.bat" plain C:/a-b_c.txt""#
        );
    }

    #[test]
    fn a_quote_and_ampersand_stay_inside_quotes() {
        assert_eq!(batch_arg(r#"a"&calc"#), r#""a""&calc""#);
        let (exposed, names) = cmd_reads(&batch_line(&[r#"a"&calc"#]));
        assert!(exposed.is_empty() && names.is_empty(), "{exposed:?} {names:?}");
        // Quoted by the C runtime's rules instead, the & is outside.
        let crt = line_of(&[r"C:\x\t.bat", r#"a"&calc"#]);
        let (exposed, _) = cmd_reads(&format!("cmd.exe /c \"{crt}\""));
        assert_eq!(exposed, ['&'], "{crt}");
    }

    #[test]
    fn a_variable_name_in_percents_is_not_expanded() {
        assert_eq!(batch_arg("%PATH%"), r#""%%cd:~,%PATH%%cd:~,%""#);
        let (exposed, names) = cmd_reads(&batch_line(&["%PATH%", "%OS%x%", "100%"]));
        assert!(exposed.is_empty() && names.is_empty(), "{exposed:?} {names:?}");
    }

    #[test]
    fn a_caret_is_quoted_not_an_escape() {
        assert_eq!(batch_arg("^"), r#""^""#);
        assert_eq!(batch_arg("a^&b"), r#""a^&b""#);
        assert!(cmd_reads(&batch_line(&["^", "^&calc", "^\"&calc"])).0.is_empty());
    }

    #[test]
    fn a_trailing_backslash_does_not_escape_the_closing_quote() {
        assert_eq!(batch_arg(r"C:\dir\"), r#""C:\dir\\""#);
        assert_eq!(batch_arg(r#"a\"&b"#), r#""a\\""&b""#);
        assert_eq!(batch_arg(r"C:\dir\x"), r"C:\dir\x", "backslashes alone need no quotes");
        assert!(cmd_reads(&batch_line(&[r"C:\dir\", "&calc"])).0.is_empty());
    }

    #[test]
    fn an_empty_batch_argument_is_two_quotes() {
        assert_eq!(batch_arg(""), r#""""#);
    }

    #[test]
    fn what_cmd_cannot_carry_to_a_batch_file_is_refused() {
        let refuse = |script: &str, args: &[&str]| batch_command_line(script, &strings(args)).unwrap_err();
        assert_eq!(refuse(r"C:\x\t.bat", &["a\r\ncalc"]), CommandLineError::BatchNewline { index: 1 });
        assert_eq!(refuse(r"C:\x\t.bat", &["ok", "a\ncalc"]), CommandLineError::BatchNewline { index: 2 });
        assert_eq!(refuse(r#"C:\x"\t.bat"#, &[]), CommandLineError::BatchScriptName);
        assert_eq!(refuse(r"C:\x\", &[]), CommandLineError::BatchScriptName);
        assert_eq!(refuse(r"C:\x\t.bat", &["a\0"]), CommandLineError::Nul { index: 1 });
        assert_eq!(refuse("", &[]), CommandLineError::EmptyProgram);
        let long = "x".repeat(MAX_COMMAND_LINE);
        assert!(matches!(refuse(r"C:\x\t.bat", &[&long]), CommandLineError::TooLong { .. }));
        assert!(refuse(r"C:\x\t.bat", &["a\nb"]).to_string().contains("line break"));
    }

    fn batch_char() -> impl Strategy<Value = char> {
        prop::sample::select(vec![
            'a', 'Z', '0', ' ', '\t', '"', '\\', '&', '|', '<', '>', '^', '%', '(', ')', '!', '=', ';', ',',
            '@', '.', ':', '\u{e9}',
        ])
    }

    proptest! {
        #[test]
        fn no_batch_argument_reaches_cmd_outside_quotes_or_expands(
            args in prop::collection::vec(prop::collection::vec(batch_char(), 0..12), 0..5)
        ) {
            let args: Vec<String> = args.into_iter().map(|a| a.into_iter().collect()).collect();
            let wide = batch_command_line(r"C:\x\t.bat", &args).unwrap();
            let line = String::from_utf16(&wide[..wide.len() - 1]).unwrap();
            let (exposed, names) = cmd_reads(&line);
            prop_assert!(exposed.is_empty(), "{line}: {exposed:?} outside quotes");
            prop_assert!(names.is_empty(), "{line}: expands {names:?}");
        }
    }

    proptest! {
        #[test]
        fn every_argv_parses_back_to_itself(program in program(), args in prop::collection::vec(arg(), 0..6)) {
            let mut argv = vec![program];
            argv.extend(args);
            let wide = command_line(&argv).unwrap();
            let line = String::from_utf16(&wide[..wide.len() - 1]).unwrap();
            prop_assert_eq!(parse(&line), argv);
        }

        #[test]
        fn crlf_is_one_enter_however_the_input_is_split(data in prop::collection::vec(any::<u8>(), 0..64), cut in 0usize..64) {
            let cut = cut.min(data.len());
            let mut whole_pending = false;
            let whole = normalize_pty_input(&data, &mut whole_pending);
            let mut pending = false;
            let mut split = normalize_pty_input(&data[..cut], &mut pending);
            split.extend(normalize_pty_input(&data[cut..], &mut pending));
            prop_assert_eq!(split, whole);
            prop_assert_eq!(pending, whole_pending);
        }
    }
}
