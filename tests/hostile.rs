//! Hostile input (DESIGN section 11, issue 17): one case per attack, each
//! with the real binary, real files and, where a server is involved, a
//! 127.0.0.1 server that answers like the attack (or the real emulator).
//! Every case asserts the outcome: a clear error, nothing replaced or
//! printed, and the token in no output or file in any encoding.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ABD, Run, Sim, TOKEN, Work, files_under};

/// The token in every encoding a leak could take.
fn token_forms() -> Vec<(&'static str, Vec<u8>)> {
    let raw = TOKEN.as_bytes().to_vec();
    let hex: String = TOKEN.bytes().map(|b| format!("{b:02x}")).collect();
    let percent: String = TOKEN.bytes().map(|b| format!("%{b:02X}")).collect();
    let utf16: Vec<u8> = TOKEN.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let utf16be: Vec<u8> = TOKEN.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let json: String = TOKEN
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    vec![
        ("raw", raw),
        ("base64", base64(TOKEN.as_bytes()).into_bytes()),
        ("hex", hex.into_bytes()),
        ("percent-encoded", percent.into_bytes()),
        ("UTF-16LE", utf16),
        ("UTF-16BE", utf16be),
        ("JSON-escaped", json.into_bytes()),
    ]
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Neither output of `run` nor any file below `dir` holds the token in any
/// encoding, and nothing panicked.
#[track_caller]
fn assert_no_token(run: &Run, dir: &Path) {
    let out = [run.0.stdout.as_slice(), run.0.stderr.as_slice()].concat();
    assert!(!contains(&out, b"panicked"), "a panic:\n{}", run.stderr());
    for (form, bytes) in token_forms() {
        assert!(
            !contains(&out, &bytes),
            "the token ({form}) leaked into output:\n{}{}",
            run.stdout(),
            run.stderr()
        );
        for path in files_under(dir) {
            // Only regular files: a planted FIFO or a link to /dev/zero would
            // block or never end (the product must not read them; neither
            // may this check).
            if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                continue;
            }
            let Ok(content) = std::fs::read(&path) else {
                continue;
            };
            assert!(
                !contains(&content, &bytes),
                "the token ({form}) leaked into `{}`",
                path.display()
            );
        }
    }
}

/// No raw escape or bidi character in the output.
#[track_caller]
fn assert_escaped(run: &Run) {
    let all = format!("{}{}", run.stdout(), run.stderr());
    for c in ['\u{1b}', '\u{7}', '\u{202e}'] {
        assert!(!all.contains(c), "a raw {c:?} reached the output:\n{all}");
    }
}

/// A 127.0.0.1 server that gives every connection the same raw answer.
struct Scripted {
    url: String,
    hits: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    fn start(status: u16, content_type: &str, body: Vec<u8>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://127.0.0.1:{}/v1/organization",
            listener.local_addr().unwrap().port()
        );
        let hits = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (h, r) = (Arc::clone(&hits), Arc::clone(&requests));
        let head = format!(
            "HTTP/1.1 {status} Scripted\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                h.fetch_add(1, Ordering::SeqCst);
                r.lock().unwrap().push(read_request(&mut stream));
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Scripted {
            url,
            hits,
            requests,
        }
    }
}

/// Reads one request (head and a Content-Length body).
fn read_request(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    while let Ok(n) = stream.read(&mut byte) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&byte[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                break;
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn apply(work: &Work, spec: &Path, endpoint: &str) -> Run {
    apply_with(work, spec, endpoint, &[])
}

/// `apply SPEC --auto-approve --endpoint ENDPOINT [extra]`.
fn apply_with(work: &Work, spec: &Path, endpoint: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "apply",
        spec.to_str().unwrap(),
        "--auto-approve",
        "--endpoint",
        endpoint,
    ];
    args.extend_from_slice(extra);
    work.run(&args)
}

// ---- secrets echoed by a server -------------------------------------------

#[test]
fn a_server_echoing_the_token_in_any_encoding_never_gets_it_printed_or_stored() {
    let json: String = TOKEN
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let percent: String = TOKEN.bytes().map(|b| format!("%{b:02X}")).collect();
    let html: String = TOKEN.chars().map(|c| format!("&#{};", c as u32)).collect();
    let html_hex: String = TOKEN
        .chars()
        .map(|c| format!("&#x{:x};", c as u32))
        .collect();
    let controls: String = TOKEN.chars().flat_map(|c| [c, '\u{1}']).collect();
    let bidi: String = TOKEN.chars().flat_map(|c| [c, '\u{200b}']).collect();
    let utf16: Vec<u8> = format!("<h1>bad token {TOKEN}</h1>")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut cases: Vec<(&str, u16, Vec<u8>)> = vec![
        ("UTF-16 body", 404, utf16),
        ("raw", 404, format!("echo {TOKEN}").into_bytes()),
        ("upper case", 404, format!("echo {}", TOKEN.to_uppercase()).into_bytes()),
        ("JSON \\u escapes", 404, format!("echo {json}").into_bytes()),
        ("percent-encoded", 404, format!("echo {percent}").into_bytes()),
        ("HTML decimal", 404, format!("echo {html}").into_bytes()),
        ("HTML hex", 404, format!("echo {html_hex}").into_bytes()),
        ("control characters between", 404, controls.into_bytes()),
        ("zero-width between", 404, bidi.into_bytes()),
        (
            "a piece of it",
            404,
            format!("echo {}", &TOKEN[4..16]).into_bytes(),
        ),
        (
            "in a rejection, JSON-escaped",
            400,
            format!(
                r#"{{"errors": [{{"code": "validateNoPhoneDuplicates", "externalId": "A", "message": "phone {json} taken"}}]}}"#
            )
            .into_bytes(),
        ),
        (
            "in a 503",
            503,
            format!("overloaded {TOKEN}").into_bytes(),
        ),
    ];
    cases.push((
        "redirect target",
        302,
        format!("see https://evil.example.com/?t={TOKEN}").into_bytes(),
    ));
    for (name, status, body) in cases {
        let work = Work::new();
        let spec = work.spec("org.yaml", ABD);
        let server = Scripted::start(status, "text/html", body);
        let run = apply_with(&work, &spec, &server.url, &["--request-timeout", "5s"]);
        assert_ne!(run.code(), 0, "{name}: {}", run.stderr());
        assert!(server.hits.load(Ordering::SeqCst) >= 1, "{name}");
        assert!(!work.state().exists(), "{name}: no state after a failure");
        assert_no_token(&run, work.path());
        assert_escaped(&run);
    }
}

#[test]
fn endpoint_credentials_are_refused_before_anything_masked_and_never_stored() {
    for endpoint in [
        format!("https://user:{TOKEN}@org.example.com/v1/organization"),
        format!("https://{TOKEN}@org.example.com/v1/organization"),
        format!("https://org.example.com/v1/organization?api_key={TOKEN}"),
        format!("https://org.example.com/v1/organization?x=1&Access_Token={TOKEN}"),
        format!("https://org.example.com/v1/organization?SIGNATURE={TOKEN}"),
        format!("https://user:{TOKEN}@org example.com/v1"),
    ] {
        let work = Work::new();
        let spec = work.spec("org.yaml", ABD);
        let run = apply(&work, &spec, &endpoint);
        assert_ne!(run.code(), 0, "{endpoint}");
        assert!(!work.state().exists(), "{endpoint}");
        assert_no_token(&run, work.path());
    }
}

#[test]
fn localhost_with_a_trailing_dot_is_not_loopback() {
    let work = Work::new();
    let spec = work.spec("org.yaml", ABD);
    let run = apply(&work, &spec, "http://localhost./v1/organization");
    assert_ne!(run.code(), 0);
    run.expect_stderr("plain http");
    assert_no_token(&run, work.path());
}

#[test]
fn a_large_rejection_is_read_and_reported_as_a_rejection_not_a_token_error() {
    let errors: Vec<String> = (0..12_000)
        .map(|i| {
            format!(
                r#"{{"code": "validateExternalProperties", "externalId": "E{i:05}", "message": "the external property `costCenter` of user E{i:05} is not one of the allowed options of the account's custom attribute"}}"#
            )
        })
        .collect();
    let body = format!(r#"{{"errors": [{}]}}"#, errors.join(","));
    assert!(body.len() > 1_700_000, "{} bytes", body.len());
    let server = Scripted::start(400, "application/json", body.into_bytes());
    let work = Work::new();
    let spec = work.spec("org.yaml", ABD);
    let run = apply(&work, &spec, &server.url);
    assert_ne!(run.code(), 0);
    let err = run.stderr();
    assert!(err.contains("rejected"), "{err}");
    assert!(!err.contains("refused the API token"), "{err}");
    assert!(!work.state().exists());
    assert_no_token(&run, work.path());
}

/// An emulator and a work directory with the ABD spec applied once (the
/// state exists); the spec's path.
fn applied_abd() -> (Sim, Work, PathBuf) {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let spec = work.spec("org.yaml", ABD);
    apply(&work, &spec, &sim.url).expect_code(0);
    (sim, work, spec)
}

// ---- output paths ---------------------------------------------------------

#[test]
fn plan_outputs_never_replace_the_state_its_siblings_the_spec_or_a_device() {
    let (_sim, work, spec) = applied_abd();
    let state = work.state();
    let before = std::fs::read(&state).unwrap();
    let spec_before = std::fs::read(&spec).unwrap();
    let victim = work.path().join("victim.txt");
    std::fs::write(&victim, b"keep me").unwrap();
    let link = work.path().join("link.json");
    symlink(&victim, &link).unwrap();
    let fifo = work.path().join("fifo.json");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let dir = work.path().display().to_string();
    for (flag, target) in [
        ("--out", state.display().to_string()),
        ("--out", format!("{dir}/.orgform/../.orgform/state.json")),
        ("--out", format!("{dir}/.orgform/state.json.backup")),
        ("--out", format!("{dir}/.orgform/state.json.lock")),
        ("--out", format!("{dir}/.orgform/history.jsonl")),
        ("--out", spec.display().to_string()),
        ("--out", "./org.yaml".to_owned()),
        ("--out", "/dev/null".to_owned()),
        ("--out", link.display().to_string()),
        ("--out", fifo.display().to_string()),
        ("--deletions-report", state.display().to_string()),
        ("--deletions-report", spec.display().to_string()),
        ("--deletions-report", link.display().to_string()),
    ] {
        let run = work.run(&[
            "plan",
            spec.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            flag,
            &target,
        ]);
        assert_ne!(run.code(), 0, "{flag} {target}: {}", run.stderr());
        assert!(
            run.stderr().contains("refusing"),
            "{flag} {target}: {}",
            run.stderr()
        );
        assert!(run.stdout().is_empty(), "{flag} {target}: nothing printed");
        assert_eq!(std::fs::read(&state).unwrap(), before, "{flag} {target}");
        assert_eq!(
            std::fs::read(&spec).unwrap(),
            spec_before,
            "{flag} {target}"
        );
        assert_eq!(
            std::fs::read(&victim).unwrap(),
            b"keep me",
            "{flag} {target}"
        );
        assert_no_token(&run, work.path());
    }
    let metadata = std::fs::symlink_metadata("/dev/null").unwrap();
    assert!(!metadata.is_file(), "/dev/null is still a device");
    // A new path and an existing plan file are fine.
    let out = work.path().join("plan.json");
    for _ in 0..2 {
        work.run(&[
            "plan",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .expect_code(0);
    }
}

// ---- state, lock, history -------------------------------------------------

#[test]
fn a_symlinked_state_path_is_refused_and_its_target_left_alone() {
    let (sim, work, spec) = applied_abd();
    let real = work.state();
    let before = std::fs::read(&real).unwrap();
    let link = work.path().join(".orgform/other-name.json");
    symlink(&real, &link).unwrap();
    for command in ["plan", "apply"] {
        let mut args = vec![
            command,
            spec.to_str().unwrap(),
            "--state",
            link.to_str().unwrap(),
        ];
        if command == "apply" {
            args.extend(["--auto-approve", "--endpoint", &sim.url]);
        }
        let run = work.run(&args);
        assert_ne!(run.code(), 0, "{command}");
        run.expect_stderr("symbolic link");
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), before);
        assert!(!work.path().join(".orgform/other-name.json.lock").exists());
        assert_no_token(&run, work.path());
    }
}

#[test]
fn a_state_directory_writable_by_others_is_refused_with_advice() {
    let work = Work::new();
    let spec = work.spec("org.yaml", ABD);
    let dir = work.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let state = dir.join("state.json");
    let run = work.run(&[
        "plan",
        spec.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_ne!(run.code(), 0);
    run.expect_stderr("chmod 700");
    assert!(
        std::fs::read_dir(&dir).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn a_planted_history_symlink_is_never_followed() {
    let sim = Sim::start(&[]);
    let work = Work::new();
    let spec = work.spec("org.yaml", ABD);
    std::fs::create_dir_all(work.path().join(".orgform")).unwrap();
    std::fs::set_permissions(
        work.path().join(".orgform"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let victim = work.path().join("victim.txt");
    std::fs::write(&victim, b"keep me").unwrap();
    symlink(&victim, work.path().join(".orgform/history.jsonl")).unwrap();
    let run = apply(&work, &spec, &sim.url);
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    assert!(
        run.stderr().contains("symbolic link"),
        "the refusal is reported: {}",
        run.stderr()
    );
    assert_no_token(&run, work.path());
}

#[test]
fn odd_lock_files_are_errors_with_advice_never_a_busy_loop() {
    let sim = Sim::start(&[]);
    for odd in ["dangling symlink", "FIFO", "directory"] {
        let work = Work::new();
        let spec = work.spec("org.yaml", ABD);
        let dir = work.path().join(".orgform");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let lock = dir.join("state.json.lock");
        match odd {
            "dangling symlink" => symlink(dir.join("nowhere"), &lock).unwrap(),
            "FIFO" => assert!(
                Command::new("mkfifo")
                    .arg(&lock)
                    .status()
                    .unwrap()
                    .success()
            ),
            _ => std::fs::create_dir(&lock).unwrap(),
        }
        let run = apply_with(&work, &spec, &sim.url, &["--lock-timeout", "2s"]);
        assert_ne!(run.code(), 0, "{odd}");
        let err = run.stderr();
        assert!(err.contains("lock"), "{odd}: {err}");
        assert!(
            err.contains("force-unlock") || err.contains("remove"),
            "{odd}: {err}"
        );
        assert!(!work.state().exists(), "{odd}: nothing applied");
        assert_no_token(&run, work.path());
    }
    // Nothing reached the emulator.
    let data = sim.data();
    assert!(
        data["users"]
            .as_array()
            .is_none_or(|u| u.iter().all(|u| u["managed"] != true))
    );
}

#[test]
fn a_serial_above_2_pow_53_is_refused_before_any_request() {
    let server = Scripted::start(200, "application/json", b"{}".to_vec());
    let work = Work::new();
    let spec = work.spec("org.yaml", ABD);
    let sim = Sim::start(&[]);
    apply(&work, &spec, &sim.url).expect_code(0);
    let state = work.state();
    let text = std::fs::read_to_string(&state).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let serial = value["serial"].as_u64().unwrap();
    let edited = text.replacen(
        &format!("\"serial\": {serial}"),
        &format!("\"serial\": {}", u64::MAX),
        1,
    );
    std::fs::write(&state, &edited).unwrap();
    let run = apply_with(&work, &spec, &server.url, &["--endpoint-moved"]);
    assert_ne!(run.code(), 0);
    run.expect_stderr("2^53");
    assert_eq!(server.hits.load(Ordering::SeqCst), 0, "no request was sent");
    assert!(server.requests.lock().unwrap().is_empty());
    assert_eq!(std::fs::read_to_string(&state).unwrap(), edited);
}

#[test]
fn force_unlock_refuses_a_live_holder_on_this_host_without_force() {
    let work = Work::new();
    let dir = work.path().join(".orgform");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let host = String::from_utf8(Command::new("uname").arg("-n").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    let lock = dir.join("state.json.lock");
    let holder = serde_json::json!({
        "id": "0b7f8a9e-0000-4000-8000-000000000009",
        "user": "mallory",
        "host": host,
        "pid": std::process::id(),
        "command": "orgform apply",
        "time": "2026-11-23T10:00:00Z",
    });
    std::fs::write(&lock, holder.to_string()).unwrap();
    let run = work.run(&["force-unlock", "--yes"]);
    assert_ne!(run.code(), 0, "{}", run.stderr());
    assert!(lock.exists(), "the live holder's lock is kept");
    run.expect_stderr("--force");
}

// ---- escaping -------------------------------------------------------------

#[test]
fn escape_and_bidi_characters_from_a_state_and_a_lock_never_reach_the_terminal() {
    let (sim, work, spec) = applied_abd();
    let state = work.state();
    let text = std::fs::read_to_string(&state).unwrap();
    let evil = text.replace("Ann", "Ann\\u001b]0;pwned\\u0007\\u202e");
    std::fs::write(&state, evil).unwrap();
    let lock = work.path().join(".orgform/state.json.lock");
    let holder = serde_json::json!({
        "id": "0b7f8a9e-0000-4000-8000-00000000000a",
        "user": "mallory\u{1b}[2J",
        "host": "elsewhere\u{202e}",
        "pid": 1,
        "command": "orgform apply\u{7}",
        "time": "2026-11-23T10:00:00Z",
    });
    std::fs::write(&lock, holder.to_string()).unwrap();
    for args in [
        vec!["state", "list"],
        vec!["state", "show"],
        vec!["plan", spec.to_str().unwrap()],
    ] {
        let run = work.run(&args);
        assert_escaped(&run);
        assert_no_token(&run, work.path());
    }
    let run = work.run(&["state", "show"]);
    run.expect_stdout("\\u{1b}");
    let run = apply(&work, &spec, &sim.url);
    assert_ne!(run.code(), 0, "locked");
    assert_escaped(&run);
}

// ---- spec directories (helper A's load.rs) --------------------------------

#[test]
fn only_regular_files_are_read_from_a_spec_directory() {
    let work = Work::new();
    let dir = work.path().join("spec");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.yaml"), ABD).unwrap();
    let secret = work.path().join("secret.txt");
    std::fs::write(
        &secret,
        "root:$6$saltsalt$hashhashhash:19000:0:99999:7:::\n",
    )
    .unwrap();
    type Plant<'a> = Box<dyn Fn(&Path) + 'a>;
    let cases: [(&str, Plant<'_>); 4] = [
        (
            "symlink to a file",
            Box::new(|p: &Path| symlink(&secret, p).unwrap()),
        ),
        (
            "symlink to /proc/self/environ",
            Box::new(|p: &Path| symlink("/proc/self/environ", p).unwrap()),
        ),
        (
            "FIFO",
            Box::new(|p: &Path| {
                assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
            }),
        ),
        (
            "/dev/zero",
            Box::new(|p: &Path| symlink("/dev/zero", p).unwrap()),
        ),
    ];
    for (name, plant) in cases {
        let planted = dir.join("zz.yaml");
        let _ = std::fs::remove_file(&planted);
        plant(&planted);
        let run = work.run(&["validate", dir.to_str().unwrap()]);
        assert_ne!(run.code(), 0, "{name}");
        let all = format!("{}{}", run.stdout(), run.stderr());
        assert!(all.contains("zz.yaml"), "{name}: names it: {all}");
        assert!(!all.contains("saltsalt"), "{name}: {all}");
        assert!(!all.contains("FRANKLY_API_TOKEN="), "{name}: {all}");
        assert_no_token(&run, work.path());
    }
}

// ---- the emulator ---------------------------------------------------------

#[test]
fn the_emulator_checks_the_token_before_faults_and_bounds_latency_and_strings() {
    let sim = Sim::start(&["--fault", "fail=1"]);
    let body = r#"{"settings": {"validateOnly": true}, "users": []}"#;
    let (status, _) = common::http_post(&sim.url, "wrong-token", body);
    assert_eq!(status, 400, "a wrong token is refused first");
    let (status, _) = common::http_post(&sim.url, TOKEN, body);
    assert_eq!(status, 503, "the fault was not consumed by the wrong token");
    let (status, _) = common::http_post(&sim.url, TOKEN, body);
    assert_eq!(status, 200);

    let faults = sim.url.replace("/v1/organization", "/_sim/faults");
    let (status, text) =
        common::http_post(&faults, TOKEN, &format!(r#"{{"latencyMs": {}}}"#, u64::MAX));
    assert_eq!(status, 400, "{text}");
    let (status, _) = common::http_post(&faults, TOKEN, r#"{"latencyMs": 600001}"#);
    assert_eq!(status, 400);

    let long = "x".repeat(10 << 20);
    let big = format!(
        r#"{{"settings": {{"validateOnly": true}}, "users": [{{"externalId": "{long}", "firstName": "A", "lastName": "B", "email": "a@example.com"}}]}}"#
    );
    let (status, text) = common::http_post(&sim.url, TOKEN, &big);
    assert_eq!(status, 400, "{}", &text[..text.len().min(300)]);
    assert!(text.contains("65536"), "{}", &text[..text.len().min(300)]);
}

#[test]
fn idle_connections_do_not_starve_the_emulator() {
    let sim = Sim::start(&[]);
    let addr = sim.addr();
    let idle: Vec<TcpStream> = (0..600)
        .filter_map(|_| TcpStream::connect(&addr).ok())
        .collect();
    assert!(idle.len() >= 500, "{} connections opened", idle.len());
    let body = r#"{"settings": {"validateOnly": true}, "users": []}"#;
    let (status, _) = common::http_post(&sim.url, TOKEN, body);
    assert_eq!(status, 200, "a real client is served despite the idle ones");
    drop(idle);
}
