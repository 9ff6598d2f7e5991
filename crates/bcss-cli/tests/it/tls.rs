//! TLS: certificates are always checked; `--ca-cert` adds a root for inspecting proxies.
//!
//! A real TLS server on 127.0.0.1 (`openssl s_server`, from the `openssl` package) with a
//! self-signed certificate: without `--ca-cert` bcss refuses the connection; with it bcss gets
//! through TLS and then finds the server is not a Girder API (s_server answers with HTML).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::util::{bcss, run, Dir};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn self_signed_server_needs_ca_cert() {
    let d = Dir::new();
    // A private CA (what an inspecting proxy installs) and a server certificate it signed.
    let (ca, ca_key, cert, key, csr) =
        (d.join("ca.pem"), d.join("ca.key"), d.join("cert.pem"), d.join("key.pem"), d.join("req.csr"));
    let ext = d.write("ext.cnf", "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n");
    let openssl = |args: &[&std::ffi::OsStr]| {
        let status = Command::new("openssl")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is installed (Debian package `openssl`)");
        assert!(status.success(), "openssl {args:?}");
    };
    let s = |v: &str| std::ffi::OsString::from(v);
    openssl(&[
        &s("req"),
        &s("-x509"),
        &s("-newkey"),
        &s("rsa:2048"),
        &s("-nodes"),
        &s("-days"),
        &s("2"),
        &s("-subj"),
        &s("/CN=bcss test CA"),
        &s("-keyout"),
        ca_key.as_os_str(),
        &s("-out"),
        ca.as_os_str(),
    ]);
    openssl(&[
        &s("req"),
        &s("-newkey"),
        &s("rsa:2048"),
        &s("-nodes"),
        &s("-subj"),
        &s("/CN=127.0.0.1"),
        &s("-keyout"),
        key.as_os_str(),
        &s("-out"),
        csr.as_os_str(),
    ]);
    openssl(&[
        &s("x509"),
        &s("-req"),
        &s("-in"),
        csr.as_os_str(),
        &s("-CA"),
        ca.as_os_str(),
        &s("-CAkey"),
        ca_key.as_os_str(),
        &s("-CAcreateserial"),
        &s("-days"),
        &s("2"),
        &s("-extfile"),
        ext.as_os_str(),
        &s("-out"),
        cert.as_os_str(),
    ]);
    let port = free_port();
    let mut child = Command::new("openssl")
        .args(["s_server", "-www", "-accept", &port.to_string()])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    // s_server prints ACCEPT once it listens.
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    while !line.contains("ACCEPT") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "openssl s_server exited before listening");
    }
    let url = format!("https://127.0.0.1:{port}/api/v1");

    let refused = run(bcss().args(["download", "--retries", "0", "--api-url", &url]).arg("--out").arg(d.join("a")));
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.to_lowercase().contains("certificate") || refused.stderr.contains("UnknownIssuer"),
        "{}",
        refused.stderr
    );

    let trusted = run(bcss()
        .args(["download", "--retries", "0", "--api-url", &url, "--ca-cert"])
        .arg(&ca)
        .arg("--out")
        .arg(d.join("b")));
    assert_eq!(trusted.code, 3, "{}", trusted.stderr);
    assert!(
        trusted.stderr.contains("this is not a Girder API"),
        "TLS should succeed with --ca-cert:\n{}",
        trusted.stderr
    );

    let not_pem = d.write("not-a-cert.pem", "hello");
    let bad =
        run(bcss().args(["download", "--api-url", &url, "--ca-cert"]).arg(&not_pem).arg("--out").arg(d.join("c")));
    assert_eq!(bad.code, 2, "a bad --ca-cert is bad input: {}", bad.stderr);
    assert!(bad.stderr.contains("holds no PEM certificate"), "{}", bad.stderr);
}
