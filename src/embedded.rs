//! A private PostgreSQL cluster for a laptop or a test run, made with PostgreSQL's own
//! `initdb` and `pg_ctl` (Debian puts them under `/usr/lib/postgresql/<version>/bin`): when no
//! `DATABASE_URL` is given and nothing answers on 127.0.0.1:5432, `serve --demo` and the test
//! harness create one in a data directory, start it on a free local port (as the `postgres`
//! user when running as root, since PostgreSQL refuses root), use it and stop it afterwards.
//! Also a private `redis-server` for the tests when none answers.

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

/// What to install when PostgreSQL's server is missing.
pub const INSTALL_HINT: &str = "no PostgreSQL answers on 127.0.0.1:5432 and its server is not \
installed: install it (Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL";

/// Whether something accepts TCP connections at `addr` (within 300 ms).
pub fn answers(addr: &str) -> bool {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok())
}

/// A free TCP port on 127.0.0.1 (free when asked; taken by whoever binds it next).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The directory of `initdb` and `pg_ctl`: `PG_BIN_DIR`, else the `PATH`, else the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn bin_dir() -> Option<PathBuf> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(d) = std::env::var_os("PG_BIN_DIR").map(PathBuf::from) {
        return has_both(&d).then_some(d);
    }
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(d) = std::env::split_paths(&path).find(|d| has_both(d)) {
            return Some(d);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has_both(d))
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The default data directory of `serve --demo`'s cluster: `$XDG_DATA_HOME/yidianyima/postgres`
/// (or `~/.local/share/…`); as root `/var/lib/yidianyima/postgres`, which the `postgres` user can
/// reach.
pub fn default_data_dir() -> PathBuf {
    if is_root() {
        return PathBuf::from("/var/lib/yidianyima/postgres");
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("yidianyima/postgres")
}

/// A private cluster, stopped when dropped (unless `keep_running`).
pub struct LocalPostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    keep_running: bool,
}

impl LocalPostgres {
    /// Creates the cluster in `data` if it has none (superuser `postgres`, trust over the
    /// loopback only, UTF-8) and starts it on a free port, or finds it already running there.
    pub fn start(data: &Path) -> anyhow::Result<Self> {
        let bin = bin_dir().context(INSTALL_HINT)?;
        let as_postgres = is_root();
        std::fs::create_dir_all(data)
            .with_context(|| format!("cannot create the data directory {}", data.display()))?;
        let data = data
            .canonicalize()
            .with_context(|| format!("data directory {}", data.display()))?;
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&data))?;
        }
        let mut pg = Self {
            bin,
            data,
            port: 0,
            as_postgres,
            keep_running: false,
        };
        if !pg.data.join("PG_VERSION").exists() {
            run(pg
                .command("initdb")
                .args([
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "-D",
                ])
                .arg(&pg.data))
            .context("initdb failed")?;
        }
        // A cluster left running (a killed `serve`): use it where it listens.
        if let Some(port) = pg.running_port() {
            pg.port = port;
            return Ok(pg);
        }
        let port = free_port()?;
        // TCP on the loopback only: no socket file to place (pg_ctl passes these options
        // through a shell, so no path goes in them either).
        let options =
            format!("-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''");
        run(pg
            .command("pg_ctl")
            .arg("-D")
            .arg(&pg.data)
            .arg("-l")
            .arg(pg.data.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"]))
        .with_context(|| {
            format!(
                "pg_ctl start failed (see {})",
                pg.data.join("server.log").display()
            )
        })?;
        pg.port = port;
        Ok(pg)
    }

    /// The port of a server already running on this data directory.
    fn running_port(&self) -> Option<u16> {
        let pid = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        let port = pid.lines().nth(3)?.trim().parse::<u16>().ok()?;
        let alive = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        (alive && answers(&format!("127.0.0.1:{port}"))).then_some(port)
    }

    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    /// `postgres://postgres@127.0.0.1:PORT/db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The server URL without a database.
    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Leaves the server running after this value is dropped (its owner stops it otherwise,
    /// e.g. a watchdog).
    pub fn keep_running(mut self) -> Self {
        self.keep_running = true;
        self
    }

    /// Stops the server once `pid` has exited (a detached watchdog shell): a test process
    /// cannot run code at exit, so its cluster stops itself and its directory is removed.
    pub fn stop_after_process(&self, pid: u32, remove_dir: bool) -> anyhow::Result<()> {
        // Paths go in as positional parameters, never into the script's text.
        let script = r#"
pid=$1 pg_ctl=$2 data=$3 as_postgres=$4 remove=$5
while kill -0 "$pid" 2>/dev/null; do sleep 1; done
if [ "$as_postgres" = 1 ]; then
  runuser -u postgres -- "$pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1
else
  "$pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1
fi
if [ "$remove" = 1 ]; then rm -rf -- "$data"; fi
"#;
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("watchdog")
            .arg(pid.to_string())
            .arg(self.bin.join("pg_ctl"))
            .arg(&self.data)
            .arg(if self.as_postgres { "1" } else { "0" })
            .arg(if remove_dir { "1" } else { "0" })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start the cluster's watchdog")?;
        Ok(())
    }

    /// Stops the server (fast shutdown: open transactions roll back).
    pub fn stop(&self) -> anyhow::Result<()> {
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"]))
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        if !self.keep_running && self.port != 0 {
            if let Err(e) = self.stop() {
                tracing::warn!(error = %e, "the local PostgreSQL did not stop");
            }
        }
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Starts a private `redis-server` (no persistence) on a free port if one is installed, killed
/// once `pid` has exited; its URL.
pub fn private_redis_for(pid: u32) -> Option<String> {
    let port = free_port().ok()?;
    let started = Command::new("sh")
        .arg("-c")
        .arg(
            "command -v redis-server >/dev/null || exit 1; \
             redis-server --port \"$1\" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 & r=$!; \
             (while kill -0 \"$2\" 2>/dev/null; do sleep 1; done; kill $r) >/dev/null 2>&1 &",
        )
        .arg("redis")
        .arg(port.to_string())
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .status()
        .ok()?
        .success();
    if !started {
        return None;
    }
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if answers(&addr) {
            return Some(format!("redis://{addr}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}
