//! A small, predictable program for the runner's tests to run as a child,
//! where the platform's own tools differ (Wine's `cmd` has no `sleep`, no
//! `cat`). `fixture COMMAND [ARGS]`:
//!
//! - `cat`: copy stdin to stdout, one read at a time, until end of file.
//! - `sleep SECONDS`
//! - `exit CODE`
//! - `lines N`: print `line 1` … `line N`.
//! - `spew MIB`: write MIB mebibytes to stdout, 64 KiB at a time.
//! - `grandchild PIDFILE`: start `fixture sleep 600` as a child, write its
//!   pid to PIDFILE, then sleep.
//! - `alive PID`: exit 0 if the process runs, 1 if not.
//! - `kill PID`: end that process.
//! - `wait-break`: print `ready`, then wait for Ctrl-Break (Windows) or
//!   SIGINT (Unix) and exit 42 when it comes (60 s at most).
//! - `spawn-many N`: start up to N `fixture sleep 30` children, stopping at
//!   the first that cannot be started; print `spawned K` (and the error),
//!   then end them.
//! - `burn SECONDS`: use the CPU for SECONDS of wall-clock time, then print
//!   `burned`.
//! - `desktop` (Windows): print `startup=` and the `lpDesktop` of
//!   `GetStartupInfoW`, then `thread=` and the name of the desktop the
//!   thread is on.

use std::io::{Read, Write};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    match arg(0) {
        "cat" => {
            let mut buf = [0u8; 4096];
            let mut stdin = std::io::stdin().lock();
            let mut stdout = std::io::stdout().lock();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let _ = stdout.write_all(&buf[..n]);
                        let _ = stdout.flush();
                    }
                }
            }
        }
        "sleep" => std::thread::sleep(Duration::from_secs(arg(1).parse().unwrap_or(1))),
        "exit" => std::process::exit(arg(1).parse().unwrap_or(0)),
        "lines" => {
            for i in 1..=arg(1).parse().unwrap_or(1) {
                println!("line {i}");
            }
        }
        "spew" => {
            let chunk = vec![b'x'; 64 * 1024];
            let mut stdout = std::io::stdout().lock();
            for _ in 0..arg(1).parse::<usize>().unwrap_or(1) * 16 {
                if stdout.write_all(&chunk).is_err() {
                    break;
                }
            }
        }
        "grandchild" => {
            let exe = std::env::current_exe().expect("current exe");
            let mut child = std::process::Command::new(exe).args(["sleep", "600"]).spawn().expect("spawn");
            std::fs::write(arg(1), child.id().to_string()).expect("pid file");
            let _ = child.wait();
        }
        "alive" => std::process::exit(if alive(arg(1).parse().expect("pid")) { 0 } else { 1 }),
        "kill" => kill(arg(1).parse().expect("pid")),
        "wait-break" => {
            on_break_exit_42();
            println!("ready");
            let _ = std::io::stdout().flush();
            std::thread::sleep(Duration::from_secs(60));
        }
        "spawn-many" => {
            let exe = std::env::current_exe().expect("current exe");
            let mut children = Vec::new();
            for _ in 0..arg(1).parse().unwrap_or(1) {
                match std::process::Command::new(&exe).args(["sleep", "30"]).spawn() {
                    Ok(child) => children.push(child),
                    Err(err) => {
                        println!("failed: {err}");
                        break;
                    }
                }
            }
            println!("spawned {}", children.len());
            for mut child in children {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        "burn" => {
            let start = std::time::Instant::now();
            let mut x = 0u64;
            while start.elapsed() < Duration::from_secs(arg(1).parse().unwrap_or(1)) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            println!("burned");
        }
        #[cfg(windows)]
        "desktop" => print_desktop(),
        other => {
            eprintln!("fixture: unknown command {other:?}");
            std::process::exit(2);
        }
    }
}

#[cfg(unix)]
fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(unix)]
fn kill(pid: i32) {
    let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
}

#[cfg(windows)]
fn alive(pid: i32) -> bool {
    use windows_sys::Win32::Foundation::{CloseHandle, STILL_ACTIVE};
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    // SAFETY: plain calls; the handle is closed.
    unsafe {
        let handle = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid as u32);
        if handle.is_null() {
            return false;
        }
        let mut code = 0;
        let running = GetExitCodeProcess(handle, &mut code) != 0 && code == STILL_ACTIVE as u32;
        CloseHandle(handle);
        running
    }
}

#[cfg(windows)]
fn kill(pid: i32) {
    use windows_sys::Win32::Foundation::CloseHandle;
    use windows_sys::Win32::System::Threading::{OpenProcess, PROCESS_TERMINATE, TerminateProcess};
    // SAFETY: plain calls; the handle is closed.
    unsafe {
        let handle = OpenProcess(PROCESS_TERMINATE, 0, pid as u32);
        if !handle.is_null() {
            TerminateProcess(handle, 9);
            CloseHandle(handle);
        }
    }
}

#[cfg(unix)]
fn on_break_exit_42() {
    extern "C" fn handler(_: i32) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { nix_exit(42) };
    }
    unsafe extern "C" {
        #[link_name = "_exit"]
        fn nix_exit(code: i32) -> !;
        fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    }
    // SAFETY: installs a handler that only calls _exit. SIGINT is 2.
    unsafe { signal(2, handler) };
}

#[cfg(windows)]
fn on_break_exit_42() {
    use windows_sys::Win32::System::Console::SetConsoleCtrlHandler;
    unsafe extern "system" fn handler(_event: u32) -> i32 {
        std::process::exit(42)
    }
    // SAFETY: a handler that exits the process.
    unsafe { SetConsoleCtrlHandler(Some(handler), 1) };
}

/// What `desktop` prints: the desktop the creator asked for and the one the
/// thread actually got.
#[cfg(windows)]
fn print_desktop() {
    use windows_sys::Win32::System::Threading::{GetCurrentThreadId, GetStartupInfoW, STARTUPINFOW};
    // windows-sys has these behind a feature cordon does not otherwise need.
    #[link(name = "user32")]
    unsafe extern "system" {
        fn GetThreadDesktop(thread: u32) -> *mut std::ffi::c_void;
        fn GetUserObjectInformationW(
            object: *mut std::ffi::c_void,
            index: i32,
            info: *mut std::ffi::c_void,
            length: u32,
            needed: *mut u32,
        ) -> i32;
    }
    let wide = |p: *const u16| -> String {
        if p.is_null() {
            return "(null)".into();
        }
        // SAFETY: a NUL-terminated string from the system.
        let len = (0..).take_while(|&i| unsafe { *p.add(i) } != 0).count();
        // SAFETY: `len` units before the NUL.
        String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, len) })
    };
    // SAFETY: plain data, filled in by the call.
    let mut startup: STARTUPINFOW = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer.
    unsafe { GetStartupInfoW(&mut startup) };
    println!("startup={}", wide(startup.lpDesktop));
    let mut name = [0u16; 256];
    let mut needed = 0u32;
    // SAFETY: the current thread's desktop (not to be closed) and a buffer
    // of the size given; UOI_NAME is 2.
    let ok = unsafe {
        let desktop = GetThreadDesktop(GetCurrentThreadId());
        !desktop.is_null()
            && GetUserObjectInformationW(
                desktop,
                2,
                name.as_mut_ptr().cast(),
                size_of_val(&name) as u32,
                &mut needed,
            ) != 0
    };
    println!(
        "thread={}",
        if ok { wide(name.as_ptr()) } else { format!("(error {})", std::io::Error::last_os_error()) }
    );
}
