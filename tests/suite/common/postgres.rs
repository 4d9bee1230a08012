//! A real PostgreSQL for the tests, never a mock. With `SWITCHBOARD_TEST_POSTGRES` (a
//! URL whose user may create databases) the tests use that server; otherwise the first
//! test that asks makes a throwaway cluster with the installed server binaries
//! (`initdb` and `postgres`, from Debian's `postgresql` package) in a temporary
//! directory, on a loopback port, and the cluster stops and is removed when the test
//! process ends, however it ends. Each test gets a database of its own.
//!
//! The throwaway cluster serves TLS too, with a certificate for 127.0.0.1 signed by a
//! CA of its own ([`server_ca`]).
//!
//! Without a server this fails, saying what to install; it never skips.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A fresh, empty database for one test.
pub struct Database {
    /// `postgres://USER@127.0.0.1:PORT/NAME`, for `--store`.
    pub url: String,
    pub name: String,
}

impl Database {
    /// A client connected to this database, for looking at what the engine stored.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }

    /// A PostgreSQL store on this database, as one engine node opens it (each call is
    /// another node).
    pub async fn node(&self) -> switchboard::store::postgres::PgStore {
        let at: switchboard::store::postgres::PgLocation = self.url.parse().expect("location");
        switchboard::store::postgres::PgStore::open(
            &at,
            switchboard::store::Sealer::default(),
            "test",
        )
        .await
        .expect("open the PostgreSQL store")
    }
}

/// The server every test of this process shares: its URL up to (without) the
/// database name, and the throwaway cluster's keeper when this process made it.
struct Server {
    base: String,
    /// The CA that signed the server's certificate, for the TLS tests.
    ca: Option<PathBuf>,
    /// The cluster's keeper reads this pipe until it closes (this process ended):
    /// then it stops the server and removes the directory.
    _keeper: Option<(Child, std::process::ChildStdin)>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The CA file that verifies the shared server's certificate (the throwaway cluster
/// serves TLS with one of its own; an external server's is SWITCHBOARD_TEST_POSTGRES_CA).
pub async fn server_ca() -> PathBuf {
    tokio::task::spawn_blocking(|| SERVER.get_or_init(start).ca.clone())
        .await
        .expect("the PostgreSQL harness panicked")
        .unwrap_or_else(|| {
            panic!(
                "the TLS tests need the CA of the server at SWITCHBOARD_TEST_POSTGRES: set \
                 SWITCHBOARD_TEST_POSTGRES_CA to its file (the throwaway cluster, without \
                 SWITCHBOARD_TEST_POSTGRES, makes its own)"
            )
        })
}

/// A new database on the shared server (made on first use).
pub async fn database() -> Database {
    let server = tokio::task::spawn_blocking(|| SERVER.get_or_init(start).base.clone())
        .await
        .expect("the PostgreSQL harness panicked");
    let name = format!(
        "sb_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = connect(&format!("{server}/postgres")).await;
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {server}: {e}"));
    Database {
        url: format!("{server}/{name}"),
        name,
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    tokio::spawn(connection);
    client
}

fn start() -> Server {
    if let Ok(url) = std::env::var("SWITCHBOARD_TEST_POSTGRES") {
        return Server {
            base: server_part(&url),
            ca: std::env::var_os("SWITCHBOARD_TEST_POSTGRES_CA").map(PathBuf::from),
            _keeper: None,
        };
    }
    let bin = server_binaries().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::Builder::new()
        .prefix("switchboard-pg-")
        .tempdir()
        .expect("temp dir")
        .keep();
    let port = free_port();
    let as_root = is_root();
    if as_root {
        // initdb refuses to run as root: the cluster belongs to the postgres user.
        chown_to_postgres(&dir);
    }
    let script = r#"
        dir="$1"; port="$2"; bin="$3"
        if ! "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync \
             >"$dir/initdb.log" 2>&1; then
            cat "$dir/initdb.log" >&2; rm -rf "$dir"; exit 1
        fi
        # A CA and a server certificate for 127.0.0.1, for the TLS tests (EC keys: fast).
        ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        if ! ( openssl req -x509 $ec -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 2 \
                 -subj /CN=switchboard-test-ca \
               && openssl req $ec -keyout "$dir/server.key" -out "$dir/server.csr" \
                 -subj /CN=127.0.0.1 \
               && printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/san.ext" \
               && openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" \
                 -CAkey "$dir/ca.key" -CAcreateserial -out "$dir/server.pem" -days 2 \
                 -extfile "$dir/san.ext" && chmod 600 "$dir/server.key" ) >"$dir/tls.log" 2>&1
        then
            cat "$dir/tls.log" >&2; rm -rf "$dir"; exit 1
        fi
        chmod 755 "$dir"; chmod 644 "$dir/ca.pem"
        # fsync off: a test server, never killed itself (nodes are); commits still wait
        # for the server (synchronous_commit stays on, as in production).
        "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 \
            -c fsync=off -c max_connections=300 -c shared_buffers=64MB \
            -c ssl=on -c ssl_cert_file="$dir/server.pem" -c ssl_key_file="$dir/server.key" \
            >"$dir/server.log" 2>&1 &
        server=$!
        echo started
        cat >/dev/null
        kill -INT "$server" 2>/dev/null; wait "$server"
        rm -rf "$dir"
    "#;
    let mut command = if as_root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--clear-groups",
            "sh",
        ]);
        c
    } else {
        Command::new("sh")
    };
    let mut keeper = command
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(&dir)
        .arg(port.to_string())
        .arg(&bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the PostgreSQL keeper: {e}"));
    let stdin = keeper.stdin.take().expect("keeper stdin");
    let mut started = String::new();
    let mut stdout = keeper.stdout.take().expect("keeper stdout");
    (&mut stdout).take(8).read_to_string(&mut started).ok();
    if !started.starts_with("started") {
        let output = keeper.wait_with_output().expect("keeper output");
        panic!(
            "the throwaway PostgreSQL cluster did not start (initdb in {}): {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let base = format!("postgres://postgres@127.0.0.1:{port}");
    wait_until_accepting(&base, &dir);
    Server {
        base,
        ca: Some(dir.join("ca.pem")),
        _keeper: Some((keeper, stdin)),
    }
}

/// `postgres://USER[:PW]@HOST[:PORT]` of a URL, without its database and options.
fn server_part(url: &str) -> String {
    let (scheme, rest) = url
        .split_once("://")
        .unwrap_or_else(|| panic!("SWITCHBOARD_TEST_POSTGRES is not a postgres:// URL"));
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{authority}")
}

/// `initdb` and `postgres` from PATH, else from Debian's versioned directories.
fn server_binaries() -> Result<PathBuf, String> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if has_both(&dir) {
            // Debian links them from /usr/local/bin or the like: the real directory.
            let real = std::fs::canonicalize(dir.join("initdb"))
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or(dir);
            return Ok(real);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|dir| has_both(dir))
        .collect();
    versions.sort();
    versions.pop().ok_or_else(|| {
        "the PostgreSQL tests need a server: install Debian's postgresql package \
         (`apt-get install postgresql`; .ci/run does), which brings initdb and postgres, \
         or set SWITCHBOARD_TEST_POSTGRES to a server URL whose user may create databases"
            .to_string()
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn chown_to_postgres(dir: &Path) {
    let output = Command::new("id")
        .args(["-u", "postgres"])
        .output()
        .expect("id -u postgres");
    let uid: u32 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| {
            panic!("running as root, the PostgreSQL tests need the postgres user (Debian's postgresql package makes it)")
        });
    let output = Command::new("id")
        .args(["-g", "postgres"])
        .output()
        .expect("id -g postgres");
    let gid: u32 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("postgres gid");
    std::os::unix::fs::chown(dir, Some(uid), Some(gid)).expect("chown the cluster directory");
}

fn wait_until_accepting(base: &str, dir: &Path) {
    let url = format!("{base}/postgres");
    let dir = dir.to_path_buf();
    // A thread of its own: the caller may be inside the tests' runtime.
    std::thread::spawn(move || poll_until_accepting(&url, &dir))
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

fn poll_until_accepting(url: &str, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    loop {
        let attempt = runtime.block_on(tokio_postgres::connect(url, tokio_postgres::NoTls));
        match attempt {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                panic!("the throwaway PostgreSQL did not accept connections in 60 s: {e}\n{log}");
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
