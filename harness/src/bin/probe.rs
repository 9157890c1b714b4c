//! `probe URL...`: a container health check for images that have no shell and no curl. Sends one
//! `GET` to each URL over plain HTTP and exits 0 when every answer is 2xx, 1 on any other answer or
//! none within the time limit, 2 on a URL it cannot use. Standard library only, so the binary
//! stays small.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::process::ExitCode;
use std::time::Duration;

/// The answer was 2xx.
const EXIT_HEALTHY: u8 = 0;
/// No answer, or not 2xx.
const EXIT_UNHEALTHY: u8 = 1;
/// Bad usage: no URL, or not `http://HOST:PORT/PATH`.
const EXIT_USAGE: u8 = 2;
/// Connecting, writing and reading each get this long (Docker's own health-check timeout is 30 s).
const LIMIT: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
    let urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        eprintln!("usage: probe http://HOST:PORT/PATH...");
        return ExitCode::from(EXIT_USAGE);
    }
    let mut targets = Vec::new();
    for url in &urls {
        let Some(target) = split(url) else {
            eprintln!("error: {url:?} is not http://HOST:PORT/PATH (plain HTTP only)");
            return ExitCode::from(EXIT_USAGE);
        };
        targets.push((url, target));
    }
    for (url, (authority, path)) in targets {
        match get(authority, path) {
            Ok(status) if (200..300).contains(&status) => {}
            Ok(status) => {
                eprintln!("unhealthy: {url} answered {status}");
                return ExitCode::from(EXIT_UNHEALTHY);
            }
            Err(err) => {
                eprintln!("unhealthy: {url}: {err}");
                return ExitCode::from(EXIT_UNHEALTHY);
            }
        }
    }
    ExitCode::from(EXIT_HEALTHY)
}

/// `http://host:port/path` into `host:port` and `/path`.
fn split(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let port = authority.rsplit_once(':')?.1;
    (!authority.is_empty() && port.parse::<u16>().is_ok()).then_some((authority, path))
}

/// The status of `GET path`, from the first address the name resolves to that answers.
fn get(authority: &str, path: &str) -> std::io::Result<u16> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, format!("{authority} resolves to nothing"));
    for address in authority.to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, LIMIT) {
            Ok(stream) => return exchange(stream, authority, path),
            Err(err) => last = err,
        }
    }
    Err(last)
}

fn exchange(mut stream: TcpStream, authority: &str, path: &str) -> std::io::Result<u16> {
    stream.set_read_timeout(Some(LIMIT))?;
    stream.set_write_timeout(Some(LIMIT))?;
    // One write: a request in pieces is still a request, but a server need not be patient with it.
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    // The status line is all that is read: `HTTP/1.1 200 OK`.
    let mut head = [0u8; 64];
    let mut filled = 0;
    while filled < 12 {
        match stream.read(&mut head[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    let line = String::from_utf8_lossy(&head[..filled]);
    line.split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not HTTP: {line:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_splits_into_authority_and_path() {
        assert_eq!(split("http://mock-scim:9100/_admin/health"), Some(("mock-scim:9100", "/_admin/health")));
        assert_eq!(split("http://127.0.0.1:9200"), Some(("127.0.0.1:9200", "/")));
        assert_eq!(split("https://127.0.0.1:9200/"), None, "plain HTTP only");
        assert_eq!(split("http://mock-scim/_admin/health"), None, "a port is required");
        assert_eq!(split("http://:x/"), None);
    }

    #[test]
    fn a_2xx_status_line_is_read_from_a_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut chunk = [0u8; 256];
            while !request.ends_with(b"\r\n\r\n") {
                let n = stream.read(&mut chunk).unwrap();
                assert_ne!(n, 0, "the request ends with an empty line");
                request.extend_from_slice(&chunk[..n]);
            }
            stream.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        assert_eq!(get(&authority, "/_admin/health").unwrap(), 204);
        assert!(server.join().unwrap().starts_with("GET /_admin/health HTTP/1.1\r\n"));
    }
}
