//! The `minject` command: options, output file naming, overwrite rules, messages and
//! exit codes.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A fresh folder for one test (removed at the end of a passing test).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("minject-cli-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs minject with stdin not a terminal.
fn minject(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_minject"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn first_import(path: &Path) -> String {
    raw_imports(&fs::read(path).unwrap())[0].name.clone()
}

#[test]
fn help_shows_every_option() {
    let t = TempDir::new("help");
    for flag in ["-h", "--help"] {
        let out = minject(&[flag], &t.0);
        assert!(out.status.success());
        let help = text(&out.stdout);
        for needle in [
            "usage:",
            "minject [options] <exe>",
            "-h --help",
            "-v --verbose",
            "-l --list",
            "-i --inplace",
            "-f --force",
            "--postfix=<p>",
            "mimalloc-override-debug.dll",
            "'-mi'",
            "examples:",
        ] {
            assert!(help.contains(needle), "help lacks '{needle}':\n{help}");
        }
    }
}

#[test]
fn a_wrong_command_line_exits_2() {
    let t = TempDir::new("usage");
    for (args, msg) in [
        (&["--bogus", "a.exe"][..], "unknown option '--bogus'"),
        (&[][..], "no executable given"),
        (&["a.exe", "b.exe"][..], "more than one executable"),
        (&["--postfix=", "a.exe"][..], "invalid postfix"),
        (&["--postfix=../x", "a.exe"][..], "invalid postfix"),
    ] {
        let out = minject(args, &t.0);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.starts_with("minject: error: "), "{err}");
        assert!(err.contains(msg), "{args:?}: {err}");
    }
}

#[test]
fn list_prints_the_modules_in_order() {
    let t = TempDir::new("list");
    fs::write(t.path("prog.exe"), Builder::default().build()).unwrap();
    let out = minject(&["--list", "prog.exe"], &t.0);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "KERNEL32.dll\nmsvcrt.dll\nUSER32.dll\n");
    let out = minject(&["-l", "-v", "prog.exe"], &t.0);
    assert!(text(&out.stdout).contains("msvcrt.dll (3: malloc, free, #42)"));
    // Listing writes nothing.
    assert_eq!(fs::read_dir(&t.0).unwrap().count(), 1);
}

#[test]
fn the_output_is_named_with_mi_and_the_input_is_untouched() {
    let t = TempDir::new("output");
    let input = Builder::default().build();
    fs::write(t.path("prog.exe"), &input).unwrap();
    let out = minject(&["prog.exe"], &t.0);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("added mimalloc-override.dll"));
    assert_eq!(fs::read(t.path("prog.exe")).unwrap(), input);
    assert_eq!(
        first_import(&t.path("prog-mi.exe")),
        "mimalloc-override.dll"
    );
    // No temporary file is left behind.
    let mut names: Vec<String> = fs::read_dir(&t.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["prog-mi.exe", "prog.exe"]);

    // An existing output is not overwritten without --force when nobody can be asked.
    fs::write(t.path("prog-mi.exe"), b"keep me").unwrap();
    let out = minject(&["prog.exe"], &t.0);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("minject: error: ") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(fs::read(t.path("prog-mi.exe")).unwrap(), b"keep me");
    let out = minject(&["--force", "prog.exe"], &t.0);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        first_import(&t.path("prog-mi.exe")),
        "mimalloc-override.dll"
    );

    // A name without an extension, in another folder.
    fs::create_dir(t.path("sub")).unwrap();
    fs::write(t.path("sub/tool"), &input).unwrap();
    let out = minject(&["sub/tool"], &t.0);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        first_import(&t.path("sub/tool-mi")),
        "mimalloc-override.dll"
    );
}

#[cfg(unix)]
#[test]
fn the_output_keeps_the_input_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let t = TempDir::new("perm");
    fs::write(t.path("prog.exe"), Builder::default().build()).unwrap();
    fs::set_permissions(t.path("prog.exe"), fs::Permissions::from_mode(0o751)).unwrap();
    assert!(minject(&["prog.exe"], &t.0).status.success());
    let mode = fs::metadata(t.path("prog-mi.exe"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o751);
}

#[test]
fn inplace_needs_force_without_a_terminal() {
    let t = TempDir::new("inplace");
    let input = Builder::default().build();
    fs::write(t.path("prog.exe"), &input).unwrap();
    let out = minject(&["--inplace", "prog.exe"], &t.0);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(fs::read(t.path("prog.exe")).unwrap(), input);
    let out = minject(&["-i", "-f", "prog.exe"], &t.0);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(first_import(&t.path("prog.exe")), "mimalloc-override.dll");
    assert!(!t.path("prog-mi.exe").exists());
    // Again: already first, the file is left as it is.
    let once = fs::read(t.path("prog.exe")).unwrap();
    let out = minject(&["-i", "-f", "prog.exe"], &t.0);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("already imports mimalloc-override.dll first"));
    assert_eq!(fs::read(t.path("prog.exe")).unwrap(), once);
}

#[test]
fn an_already_injected_exe_is_copied_unchanged() {
    let t = TempDir::new("copy");
    fs::write(t.path("prog.exe"), Builder::default().build()).unwrap();
    assert!(minject(&["prog.exe"], &t.0).status.success());
    let out = minject(&["prog-mi.exe"], &t.0);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("copied unchanged"));
    assert_eq!(
        fs::read(t.path("prog-mi-mi.exe")).unwrap(),
        fs::read(t.path("prog-mi.exe")).unwrap()
    );
}

#[test]
fn postfix_selects_the_dll() {
    let t = TempDir::new("postfix");
    fs::write(t.path("prog.exe"), Builder::default().build()).unwrap();
    for args in [
        &["--postfix=override-debug", "prog.exe"][..],
        &["-f", "--postfix", "override-debug", "prog.exe"][..],
    ] {
        let out = minject(args, &t.0);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("mimalloc-override-debug.dll"));
        assert_eq!(
            first_import(&t.path("prog-mi.exe")),
            "mimalloc-override-debug.dll"
        );
    }
}

#[test]
fn bad_inputs_fail_with_a_message_and_write_nothing() {
    let t = TempDir::new("bad");
    let pe32 = Builder {
        magic: 0x10b,
        machine: 0x14c,
        ..Builder::default()
    };
    fs::write(t.path("x86.exe"), pe32.build()).unwrap();
    fs::write(t.path("notes.txt"), b"just some text, not a program").unwrap();
    for (file, msg) in [
        ("x86.exe", "32-bit (PE32)"),
        ("notes.txt", "not a PE executable (no MZ header)"),
        ("missing.exe", "cannot read 'missing.exe'"),
    ] {
        for list in [false, true] {
            let args: &[&str] = if list { &["-l", file] } else { &[file] };
            let out = minject(args, &t.0);
            assert_eq!(out.status.code(), Some(1), "{file}");
            let err = text(&out.stderr);
            assert!(err.starts_with("minject: error: "), "{err}");
            assert!(err.contains(msg), "{file}: {err}");
        }
    }
    assert_eq!(fs::read_dir(&t.0).unwrap().count(), 2);
}

#[test]
fn a_removed_signature_is_a_warning() {
    let t = TempDir::new("signed");
    let b = Builder {
        certificate: Some(vec![0x30; 64]),
        ..Builder::default()
    };
    fs::write(t.path("signed.exe"), b.build()).unwrap();
    let out = minject(&["signed.exe"], &t.0);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).starts_with("minject: warning: 'signed.exe': the executable was signed")
    );
}
