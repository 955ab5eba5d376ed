//! `minject [options] <exe>`: puts mimalloc-override.dll (or mimalloc-<postfix>.dll)
//! first in the import table of a 64-bit Windows executable. See `minject --help` and
//! minject/README.md.
//!
//! Exit status: 0 on success, 1 when the file cannot be read, changed or written (or
//! the user declines to overwrite), 2 for a wrong command line.

use std::ffi::OsString;
use std::fs;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use minject::{dll_name_for, inject, Change, Image, Symbol, DEFAULT_POSTFIX};

const HELP: &str = "\
minject:
  Adds the mimalloc dll to the import table of a 64-bit executable,
  or moves it to the front if the executable imports it already.

usage:
  > minject [options] <exe>

options:
  -h --help        show this help
  -v --verbose     print what is read and what is changed
  -l --list        only list the imported modules, in table order
  -i --inplace     change <exe> itself (keep a backup!)
  -f --force       overwrite the output without asking
  --postfix=<p>    the dll is mimalloc-<p>.dll (default: 'override')
                   e.g. --postfix=override-debug links mimalloc-override-debug.dll

notes:
  Without '--inplace' the result is written next to <exe>, named like it with '-mi'
  added (myprogram.exe gives myprogram-mi.exe); <exe> itself is never changed.
  Put the mimalloc dll in the same folder as the executable (or on the dll search path).

examples:
  > minject --list myprogram.exe
  > minject --force --inplace myprogram.exe
";

/// Prints a line on stdout; a reader that went away (`| head`) is no reason to fail.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(io::stdout(), $($arg)*);
    }};
}

struct Options {
    verbose: bool,
    list: bool,
    inplace: bool,
    force: bool,
    postfix: String,
    exe: PathBuf,
}

/// Outcome of the command line: run with options, or print help.
enum Parsed {
    Run(Options),
    Help,
}

fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, String> {
    let mut verbose = false;
    let mut list = false;
    let mut inplace = false;
    let mut force = false;
    let mut postfix = DEFAULT_POSTFIX.to_string();
    let mut exe: Option<PathBuf> = None;
    let mut options_done = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        if options_done || !text.starts_with('-') || text == "-" {
            if exe.is_some() {
                return Err(format!(
                    "more than one executable given ('{}')",
                    arg.to_string_lossy()
                ));
            }
            exe = Some(PathBuf::from(arg));
            continue;
        }
        match text.as_str() {
            "--" => options_done = true,
            "-h" | "--help" | "-?" => return Ok(Parsed::Help),
            "-v" | "--verbose" => verbose = true,
            "-l" | "--list" => list = true,
            "-i" | "--inplace" => inplace = true,
            "-f" | "--force" => force = true,
            "--postfix" => match args.next() {
                Some(p) => postfix = p.to_string_lossy().into_owned(),
                None => return Err("--postfix needs a value: --postfix=<p>".into()),
            },
            _ if text.starts_with("--postfix=") => {
                postfix = text["--postfix=".len()..].to_string();
            }
            _ => return Err(format!("unknown option '{text}'")),
        }
    }
    if postfix.is_empty()
        || !postfix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "invalid postfix '{postfix}' (use letters, digits, '-', '_' and '.')"
        ));
    }
    let exe = exe.ok_or("no executable given")?;
    Ok(Parsed::Run(Options {
        verbose,
        list,
        inplace,
        force,
        postfix,
        exe,
    }))
}

/// `dir/name.exe` -> `dir/name-mi.exe` (`dir/name` -> `dir/name-mi`).
fn output_path(exe: &Path) -> PathBuf {
    let mut name: OsString = exe.file_stem().unwrap_or_default().to_os_string();
    name.push("-mi");
    if let Some(ext) = exe.extension() {
        name.push(".");
        name.push(ext);
    }
    exe.with_file_name(name)
}

/// Asks a yes/no question on the terminal; without a terminal the answer is no.
fn confirm(question: &str) -> bool {
    if !io::stdin().is_terminal() {
        return false;
    }
    eprint!("minject: {question} (y/n) ");
    let _ = io::stderr().flush();
    let mut line = String::new();
    if io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Writes `data` to `path` through a temporary file in the same folder and a rename,
/// so `path` is either the old file or the complete new one.
fn write_replacing(path: &Path, data: &[u8], permissions: fs::Permissions) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp_name = OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or_default());
    tmp_name.push(format!(".minject-{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::set_permissions(&tmp, permissions)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn run(o: &Options) -> Result<(), String> {
    let shown = o.exe.display();
    let input = fs::read(&o.exe).map_err(|e| format!("cannot read '{shown}': {e}"))?;
    let dll = dll_name_for(&o.postfix);

    if o.list {
        let image = Image::parse(&input).map_err(|e| format!("'{shown}': {e}"))?;
        let mut text = String::new();
        for imp in &image.imports {
            text.push_str(&imp.name);
            if o.verbose {
                let symbols = image
                    .symbols(&input, imp)
                    .map_err(|e| format!("'{shown}': {e}"))?;
                let names: Vec<String> = symbols
                    .iter()
                    .map(|s| match s {
                        Symbol::Name { name, .. } => name.clone(),
                        Symbol::Ordinal(n) => format!("#{n}"),
                    })
                    .collect();
                text.push_str(&format!(" ({}: {})", names.len(), names.join(", ")));
            }
            text.push('\n');
        }
        // A reader that stops early (`| head -n 1`) is no error.
        return match io::stdout().lock().write_all(text.as_bytes()) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                Err(format!("cannot write the list: {e}"))
            }
            _ => Ok(()),
        };
    }

    let result = inject(&input, &dll).map_err(|e| format!("'{shown}': {e}"))?;
    for w in &result.warnings {
        eprintln!("minject: warning: '{shown}': {w}");
    }
    if o.verbose {
        let image = Image::parse(&input).map_err(|e| format!("'{shown}': {e}"))?;
        let names: Vec<&str> = image.imports.iter().map(|i| i.name.as_str()).collect();
        say!(
            "minject: '{shown}': PE32+ for {}, {} sections, imports: {}",
            if image.headers.machine == minject::MACHINE_ARM64 {
                "ARM64"
            } else {
                "x86-64"
            },
            image.headers.sections.len(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    }

    let target = if o.inplace {
        o.exe.clone()
    } else {
        output_path(&o.exe)
    };
    let target_shown = target.display();
    if o.inplace && result.change == Change::AlreadyFirst {
        say!("minject: '{shown}' already imports {dll} first; left unchanged");
        return Ok(());
    }
    if !o.force && target.exists() {
        let question = if o.inplace {
            format!("change '{target_shown}' in place?")
        } else {
            format!("overwrite '{target_shown}'?")
        };
        if !confirm(&question) {
            return Err(if io::stdin().is_terminal() {
                format!("'{target_shown}' was not changed")
            } else {
                format!("'{target_shown}' exists; use --force to overwrite it")
            });
        }
    }
    let permissions = fs::metadata(&o.exe)
        .map_err(|e| format!("cannot read '{shown}': {e}"))?
        .permissions();
    write_replacing(&target, &result.data, permissions)
        .map_err(|e| format!("cannot write '{target_shown}': {e}"))?;
    if o.verbose {
        let out = Image::parse(&result.data).map_err(|e| format!("'{target_shown}': {e}"))?;
        if let (Change::Added, Some(s)) = (&result.change, out.headers.sections.last()) {
            say!(
                "minject: new section {} at RVA 0x{:x} ({} bytes, file offset 0x{:x}) holds the import directory",
                s.name(),
                s.virtual_address,
                s.virtual_size,
                s.pointer_to_raw_data
            );
        }
        let names: Vec<&str> = out.imports.iter().map(|i| i.name.as_str()).collect();
        say!("minject: imports now: {}", names.join(", "));
    }
    match result.change {
        Change::AlreadyFirst => say!(
            "minject: '{shown}' already imports {dll} first; copied unchanged to '{target_shown}'"
        ),
        Change::Moved { from } => say!(
            "minject: moved {dll} from import {} to the front: '{target_shown}'",
            from + 1
        ),
        Change::Added => say!("minject: added {dll} as the first import: '{target_shown}'"),
    }
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args_os().skip(1)) {
        Ok(Parsed::Help) => {
            let _ = io::stdout().write_all(HELP.as_bytes());
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Run(o)) => o,
        Err(e) => {
            eprintln!("minject: error: {e} (see 'minject --help')");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minject: error: {e}");
            ExitCode::FAILURE
        }
    }
}
