//! One moto server (`moto[server]==5.2.5`, a third-party ECR emulator) for the whole test binary.
//!
//! The server is found through `ROLLOUT_TEST_MOTO` (the path of `moto_server`) or `.venv/bin/moto_server` at the
//! workspace root (`python3 -m venv .venv && .venv/bin/pip install 'moto[server]==5.2.5'`). When it is missing,
//! the tests print "skipped: moto_server not found" and pass, unless `CI` is set: then they fail.
//!
//! moto is started with the Python interpreter of its `moto_server` script, on a port the OS picks on 127.0.0.1,
//! with one change: moto stamps `imagePushedAt` with the wall clock in whole seconds, so images pushed by a test
//! in the same second tie. The wrapper gives moto's ECR module a clock that moves one hour forward per push
//! (starting 2024-01-01T01:00:00Z), so every push is later than the one before, as releases are, without the
//! tests waiting. Nothing else of moto is changed.
//!
//! The server exits when this process does: it watches its stdin, which is a pipe from this process, and exits
//! when the pipe closes. Tests share the server, so each uses repository names of its own.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_ecr::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use rollout_core::clients::{AwsOptions, ecr_client_from_config};
use rollout_core::registry::Registry;

/// The region every test uses; moto keeps one state per account and region.
pub const REGION: &str = "us-east-1";
/// moto's default account id.
pub const ACCOUNT: &str = "123456789012";

const WRAPPER: &str = r#"
import os, sys, threading
from datetime import datetime, timedelta, timezone
import moto.ecr.models as ecr_models

class PushClock(datetime):
    lock = threading.Lock()
    current = datetime(2024, 1, 1, tzinfo=timezone.utc)

    @classmethod
    def now(cls, tz=None):
        with cls.lock:
            cls.current += timedelta(hours=1)
            now = cls.current
        return now if tz is None else now.astimezone(tz)

ecr_models.datetime = PushClock

def exit_with_parent():
    sys.stdin.read()
    os._exit(0)

threading.Thread(target=exit_with_parent, daemon=True).start()
sys.stdout = sys.stderr
from moto.server import main
main(sys.argv[1:])
"#;

/// The running server.
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    child: Mutex<Child>,
    /// Held open for the life of the process; the server exits when it closes.
    _stdin: Mutex<ChildStdin>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

static MOTO: OnceLock<Option<Moto>> = OnceLock::new();

/// The shared server, started on first use; `None` when moto is not installed and `CI` is not set.
pub fn moto() -> Option<&'static Moto> {
    MOTO.get_or_init(|| {
        let Some(server) = find_moto_server() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "moto_server not found: set ROLLOUT_TEST_MOTO to its path, or run `python3 -m venv .venv && \
                 .venv/bin/pip install 'moto[server]==5.2.5'` at the workspace root"
            );
            return None;
        };
        Some(start(&server))
    })
    .as_ref()
    .or_else(|| {
        eprintln!("skipped: moto_server not found");
        None
    })
}

fn find_moto_server() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ROLLOUT_TEST_MOTO") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "ROLLOUT_TEST_MOTO={} is not a file", path.display());
        return Some(path);
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    path.is_file().then_some(path)
}

/// The interpreter of a console script: its `#!` line, read through `/usr/bin/env` if need be.
fn interpreter(script: &Path) -> PathBuf {
    let text = std::fs::read_to_string(script).unwrap_or_else(|e| panic!("cannot read {}: {e}", script.display()));
    let shebang = text.lines().next().and_then(|l| l.strip_prefix("#!")).unwrap_or_else(|| {
        panic!("{} has no #! line naming its Python interpreter", script.display());
    });
    let mut words = shebang.split_whitespace();
    let first = words.next().unwrap_or_default();
    match (first.ends_with("/env"), words.next()) {
        (true, Some(program)) => PathBuf::from(program),
        _ => PathBuf::from(first),
    }
}

fn start(server: &Path) -> Moto {
    let python = interpreter(server);
    let mut child = Command::new(&python)
        .args(["-u", "-c", WRAPPER, "-H", "127.0.0.1", "-p", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start moto with {}: {e}", python.display()));
    let stdin = child.stdin.take().expect("piped stdin");
    let stderr = child.stderr.take().expect("piped stderr");

    // Read moto's log until it says where it listens, then keep draining it so moto never blocks on a full pipe.
    let (ready, listening) = mpsc::channel::<Result<String, String>>();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut ready = Some(ready);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(sender) = &ready {
                if let Some(at) = line.find("Running on http://") {
                    let url = line[at + "Running on ".len()..].trim().trim_end_matches('/').to_owned();
                    let _ = sender.send(Ok(url));
                    ready = None;
                } else {
                    seen.push(line);
                }
            }
        }
        if let Some(sender) = ready {
            let _ = sender.send(Err(seen.join("\n")));
        }
    });
    let endpoint = match listening.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(url)) => url,
        Ok(Err(log)) => panic!("moto exited before listening:\n{log}"),
        Err(_) => panic!("moto did not report its address within 60 s"),
    };
    let mut stdin = stdin;
    let _ = stdin.flush();
    Moto { endpoint, child: Mutex::new(child), _stdin: Mutex::new(stdin) }
}

impl Moto {
    /// A raw ECR client for setting up fixtures (create repositories, push images).
    pub fn client(&self) -> aws_sdk_ecr::Client {
        let config = aws_sdk_ecr::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::for_tests())
            .http_client(rollout_core::clients::https_client())
            .build();
        aws_sdk_ecr::Client::from_conf(config)
    }

    /// A [`Registry`] built the way rollout builds it: through `ecr_client_from_config`, with the endpoint as
    /// `--endpoint-url` would give it.
    pub async fn registry(&self) -> Registry {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::for_tests()))
            .build();
        let options = AwsOptions { endpoint_url: Some(self.endpoint.clone()), ..Default::default() };
        Registry::new(ecr_client_from_config(&config, &options).await.expect("an ECR client for moto"))
    }
}

/// `let moto = moto!();` gives the server or returns from the test when it is skipped.
#[macro_export]
macro_rules! moto {
    () => {
        match $crate::moto::moto() {
            Some(moto) => moto,
            None => return,
        }
    };
}
