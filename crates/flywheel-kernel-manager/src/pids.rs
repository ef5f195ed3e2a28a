//! A bound on the processes (and threads) of each kernel: one Linux pids
//! cgroup per worker, under a parent made for this server. A fork bomb in a
//! cell then fails to fork past `pids.max` instead of filling the machine's
//! process table. The worker's relay (the process that starts user code)
//! joins the cgroup; the worker sees the failed forks in `pids.events` and
//! ends its kernel (see `flywheel_kernel`), and [`remove`] stops whatever is
//! left.
//!
//! `RLIMIT_NPROC` is no substitute: it counts every process of the user
//! (all sessions together) and does not apply to root.

use std::path::{Path, PathBuf};

/// The parent cgroup under which each worker gets its own.
#[derive(Debug)]
pub struct PidsCgroups {
    parent: PathBuf,
    max: u32,
}

impl PidsCgroups {
    /// Makes `flywheel-<pid>` in this process's pids cgroup (cgroup v1's
    /// `pids` hierarchy, or v2 where the `pids` controller is on).
    ///
    /// # Errors
    /// Why no pids cgroup can be made here (no such hierarchy, not
    /// writable), in words for the log and the admin page.
    pub fn create(max: u32) -> Result<Self, String> {
        let own =
            std::fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let (v1, v2) = own_cgroups(&own);
        let base = match (v1, v2) {
            (Some(v1), _) if v1.is_dir() => v1,
            (_, Some(v2)) if v2.join("cgroup.controllers").is_file() => {
                let controllers = std::fs::read_to_string(v2.join("cgroup.controllers")).unwrap_or_default();
                if !controllers.split_whitespace().any(|c| c == "pids") {
                    return Err(format!("the pids controller is not available in {}", v2.display()));
                }
                // Children of `base` get a pids.max only when the controller
                // is on in its subtree (already on, or turned on here).
                let _ = std::fs::write(v2.join("cgroup.subtree_control"), "+pids");
                v2
            }
            _ => return Err("no pids cgroup hierarchy is mounted".to_owned()),
        };
        remove_stale(&base);
        let parent = base.join(format!("flywheel-{}", std::process::id()));
        std::fs::create_dir_all(&parent).map_err(|e| format!("cannot make {}: {e}", parent.display()))?;
        if !parent.join("pids.max").is_file() {
            let _ = std::fs::remove_dir(&parent);
            return Err(format!("{} has no pids.max (the pids controller is off there)", parent.display()));
        }
        let _ = std::fs::write(parent.join("cgroup.subtree_control"), "+pids");
        Ok(PidsCgroups { parent, max })
    }

    /// The most processes and threads one kernel may have.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Makes the cgroup of one worker, named `name`, bounded to
    /// [`PidsCgroups::max`] tasks.
    ///
    /// # Errors
    /// When the directory or its limit cannot be written.
    pub fn for_worker(&self, name: &str) -> std::io::Result<PathBuf> {
        let dir = self.parent.join(name);
        std::fs::create_dir_all(&dir)?;
        if let Err(e) = std::fs::write(dir.join("pids.max"), self.max.to_string()) {
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
        Ok(dir)
    }
}

impl Drop for PidsCgroups {
    fn drop(&mut self) {
        // Workers' cgroups whose processes have ended go; one still being
        // stopped stays (with the parent) until the next server's start
        // removes it ([`remove_stale`]).
        remove_empty(&self.parent);
    }
}

/// Where this process sits in cgroup v1's pids hierarchy and in cgroup v2,
/// from `/proc/self/cgroup` (`ID:CONTROLLERS:PATH` lines; v2's is `0::PATH`).
fn own_cgroups(proc_self_cgroup: &str) -> (Option<PathBuf>, Option<PathBuf>) {
    let mut v1 = None;
    let mut v2 = None;
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let path = path.trim_start_matches('/');
        if id == "0" && controllers.is_empty() {
            v2 = Some(Path::new("/sys/fs/cgroup").join(path));
        } else if controllers.split(',').any(|c| c == "pids") {
            v1 = Some(Path::new("/sys/fs/cgroup/pids").join(path));
        }
    }
    (v1, v2)
}

/// Removes the empty cgroups of servers that are no longer running (killed
/// before they could remove their own).
fn remove_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("flywheel-")) else { continue };
        if Path::new("/proc").join(pid).exists() {
            continue;
        }
        remove_empty(&entry.path());
    }
}

/// Removes a parent cgroup and those of its workers that are empty.
fn remove_empty(parent: &Path) {
    for worker in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        if worker.path().is_dir() {
            let _ = std::fs::remove_dir(worker.path());
        }
    }
    let _ = std::fs::remove_dir(parent);
}

/// Stops every process left in a worker's cgroup and removes it.
pub fn remove(dir: &Path) {
    for _ in 0..50 {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        let pids: Vec<i32> = procs.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if pids.is_empty() && std::fs::remove_dir(dir).is_ok() {
            return;
        }
        for pid in pids.into_iter().filter_map(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    tracing::warn!(cgroup = %dir.display(), "could not remove a kernel's pids cgroup");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_pids_hierarchy_of_cgroup_v1_and_the_path_of_v2() {
        let text = "9:name=systemd:/\n8:pids:/job/7\n4:memory:/x\n0::/\n";
        assert_eq!(
            own_cgroups(text),
            (Some(PathBuf::from("/sys/fs/cgroup/pids/job/7")), Some(PathBuf::from("/sys/fs/cgroup/")))
        );
        assert_eq!(
            own_cgroups("0::/user.slice/session-3.scope\n"),
            (None, Some(PathBuf::from("/sys/fs/cgroup/user.slice/session-3.scope")))
        );
        assert_eq!(own_cgroups("3:cpu,cpuacct:/\n"), (None, None));
    }
}
