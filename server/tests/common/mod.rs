//! What the tests that run the real `onegrid` binary share: running it, one HTTP request,
//! and a server process that is killed when dropped.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub fn example(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/vaduz")
        .join(file)
        .display()
        .to_string()
}

/// Runs `onegrid ARGS`, asserts it succeeded, and returns what it printed.
pub fn onegrid(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_onegrid"))
        .args(args)
        .output()
        .expect("run onegrid");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "onegrid {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// One HTTP/1.1 request with the session `cookie` (may be empty); the status, the body and
/// the session cookie it set, if any.
pub fn http(
    addr: &str,
    cookie: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value, Option<String>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Cookie: {cookie}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let set_cookie = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, v)| {
            k.eq_ignore_ascii_case("set-cookie") && v.trim().starts_with("onegrid_session=")
        })
        .and_then(|(_, v)| v.trim().split(';').next().map(str::to_string));
    let body = if body.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(body).expect("JSON body")
    };
    (status, body, set_cookie)
}

/// `onegrid ARGS` with `input` on standard input; asserts it succeeded; what it printed.
pub fn onegrid_with_input(args: &[&str], input: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_onegrid"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run onegrid");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "onegrid {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `onegrid serve --data-dir D --no-sim --addr 127.0.0.1:0 EXTRA…` as a real process: the
/// process, its address once it accepts connections, and the rest of its output.
pub fn serve(
    data_dir: &str,
    extra: &[&str],
) -> (
    Server,
    String,
    std::io::BufReader<std::process::ChildStdout>,
) {
    use std::io::BufRead;
    let site = Path::new(data_dir).join("site").display().to_string();
    let mut args = vec![
        "serve",
        "--data-dir",
        data_dir,
        "--no-sim",
        "--addr",
        "127.0.0.1:0",
        "--site-dir",
        &site,
    ];
    args.extend_from_slice(extra);
    let mut child = Command::new(env!("CARGO_BIN_EXE_onegrid"))
        .args(&args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut out = std::io::BufReader::new(stdout);
    let mut first = String::new();
    out.read_line(&mut first).expect("the address line");
    let addr = first
        .trim()
        .strip_prefix("onegrid: http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    // It answers once the district is loaded.
    for _ in 0..300 {
        if let Ok(mut s) = TcpStream::connect(&addr) {
            let _ = write!(
                s,
                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            let mut answer = String::new();
            if s.read_to_string(&mut answer).is_ok() && answer.starts_with("HTTP/1.1 200") {
                return (server, addr, out);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the server did not start answering");
}
