//! Probes: the least a client can do against the sandbox, measured the same way as the tools, so the
//! sandbox's own cost (delivering a watch event, serving a page of images) can be told apart from the
//! tools'. Plain HTTP/1.1 over a std `TcpStream` on a thread of its own: no runtime, no parsing beyond
//! what the answer needs.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cluster::complete;

/// A watch of one Deployment that notes when each generation is first seen complete.
pub struct WatchProbe {
    seen: Arc<Mutex<HashMap<i64, Instant>>>,
}

impl WatchProbe {
    /// Starts watching `ns/name` on the sandbox at `addr`.
    pub fn start(addr: SocketAddr, ns: &str, name: &str) -> Result<WatchProbe> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let path = format!("/apis/apps/v1/namespaces/{ns}/deployments?watch=true&fieldSelector=metadata.name%3D{name}");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n")?;
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let noted = seen.clone();
        std::thread::Builder::new().name("watch-probe".into()).spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            // Each event is one chunk holding one JSON line; chunk sizes and headers are other lines.
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                let at = Instant::now();
                if line.starts_with('{')
                    && let Ok(event) = serde_json::from_str::<Value>(&line)
                    && complete(&event["object"])
                {
                    let generation = event["object"]["metadata"]["generation"].as_i64().unwrap_or(0);
                    noted.lock().unwrap_or_else(|e| e.into_inner()).entry(generation).or_insert(at);
                }
                line.clear();
            }
        })?;
        Ok(WatchProbe { seen })
    }

    /// When the probe first saw `generation` complete.
    pub fn completed(&self, generation: i64, deadline: Instant) -> Option<Instant> {
        loop {
            if let Some(at) = self.seen.lock().unwrap_or_else(|e| e.into_inner()).get(&generation) {
                return Some(*at);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Fetches every page of `DescribeImages` of a repository, as a client that does nothing with them would;
/// answers the number of pages.
pub fn describe_all_pages(
    addr: SocketAddr,
    repository: &str,
    page_size: Option<u32>,
    tagged_only: bool,
) -> Result<usize> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut input = json!({"repositoryName": repository});
        if let Some(n) = page_size {
            input["maxResults"] = json!(n);
        }
        if tagged_only {
            input["filter"] = json!({"tagStatus": "TAGGED"});
        }
        if let Some(t) = &token {
            input["nextToken"] = json!(t);
        }
        let body = input.to_string();
        write!(
            stream,
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
             X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.DescribeImages\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=sandbox/20250101/ap-southeast-2/ecr/aws4_request, \
             SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let answer = read_response(&mut reader)?;
        pages += 1;
        let page: Value = serde_json::from_slice(&answer).context("a DescribeImages answer is JSON")?;
        if page.get("imageDetails").is_none() {
            bail!("DescribeImages failed: {page}");
        }
        token = page["nextToken"].as_str().map(str::to_string);
        if token.is_none() {
            return Ok(pages);
        }
    }
}

/// Reads one HTTP/1.1 response with a `Content-Length` and answers its body.
fn read_response(reader: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut line = String::new();
    let mut length = None;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            bail!("the connection closed before the answer");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = Some(v.trim().parse::<usize>()?);
        }
    }
    let mut body = vec![0; length.context("an answer without Content-Length")?];
    reader.read_exact(&mut body)?;
    Ok(body)
}
