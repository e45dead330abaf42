//! The compiled binary: configuration errors and graceful shutdown.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

const BINARY: &str = env!("CARGO_BIN_EXE_weasel-server");

fn command(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BINARY);
    // A clean environment: only what each test sets, nothing from the developer's shell or .env.
    cmd.env_clear()
        .current_dir(dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

#[test]
fn a_bad_setting_stops_startup_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = command(dir.path())
        .env("WEASEL_ADDR", "not-an-address")
        .env("DATABASE_URL", "postgres://weasel:s3cret-pw@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("WEASEL_ADDR") && stderr.contains("not-an-address"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret-pw"));
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(dir.path())
        .env("WEASEL_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = String::new();
    let url = loop {
        let line = lines.next().expect("server printed its URL").unwrap();
        log.push_str(&line);
        log.push('\n');
        if let Some(at) = line.find("Weasel is ready at ") {
            break line[at + "Weasel is ready at ".len()..].trim().to_string();
        }
    };
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0/"),
        "{url}"
    );
    // The default SQLite database was created under ./data.
    assert!(dir.path().join("data/weasel.db").exists());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    for line in lines {
        log.push_str(&line.unwrap());
        log.push('\n');
    }
    assert!(log.contains("shut down cleanly"), "{log}");
}

/// The binary samples how long a task woken from another thread waits for
/// a runtime worker (ten times a second), so an operator can tell a pod
/// short of CPU from a slow database.
#[test]
fn the_binary_measures_its_runtimes_wake_delay() {
    use std::io::{Read, Write};

    let dir = tempfile::tempdir().unwrap();
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = command(dir.path())
        .env("WEASEL_ADDR", "127.0.0.1:0")
        .env("WEASEL_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while !lines
        .next()
        .expect("server printed its URL")
        .unwrap()
        .contains("Weasel is ready at ")
    {}
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let samples = loop {
        let mut scrape = String::new();
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", metrics_port)) {
            let _ = stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let _ = stream.read_to_string(&mut scrape);
        }
        let samples = scrape
            .lines()
            .find_map(|l| l.strip_prefix("weasel_runtime_wake_delay_seconds_count "))
            .and_then(|n| n.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if samples >= 2.0 || std::time::Instant::now() > deadline {
            break samples;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(samples >= 2.0, "wake-delay samples: {samples}");
}
