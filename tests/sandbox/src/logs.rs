//! Container logs written by the pod simulator and served by `GET …/pods/{name}/log`.
//!
//! Each container keeps its current and its previous instance's lines, as the kubelet keeps the
//! logs of the running container and of the last terminated one (`--previous`).

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;

/// One line of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When it was written (simulated time).
    pub at: Timestamp,
    /// The text, without a newline.
    pub text: String,
}

#[derive(Debug, Default)]
struct ContainerLogs {
    current: Vec<LogLine>,
    previous: Option<Vec<LogLine>>,
}

/// Logs of every container, keyed by pod uid and container name.
#[derive(Debug, Default)]
pub struct LogStore {
    logs: Mutex<HashMap<(String, String), ContainerLogs>>,
}

impl LogStore {
    /// Starts a new instance of a container: the current lines become the previous ones.
    pub fn start_instance(&self, pod_uid: &str, container: &str) {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let entry = logs.entry((pod_uid.to_string(), container.to_string())).or_default();
        if !entry.current.is_empty() || entry.previous.is_some() {
            entry.previous = Some(std::mem::take(&mut entry.current));
        }
    }

    /// Appends lines to the current instance.
    pub fn append(&self, pod_uid: &str, container: &str, at: Timestamp, lines: &[String]) {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let entry = logs.entry((pod_uid.to_string(), container.to_string())).or_default();
        entry.current.extend(lines.iter().map(|l| LogLine { at, text: l.clone() }));
    }

    /// The lines of the current or the previous instance; `None` when there is no such instance.
    pub fn read(&self, pod_uid: &str, container: &str, previous: bool) -> Option<Vec<LogLine>> {
        let logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let entry = logs.get(&(pod_uid.to_string(), container.to_string()));
        if previous {
            entry.and_then(|e| e.previous.clone())
        } else {
            Some(entry.map(|e| e.current.clone()).unwrap_or_default())
        }
    }

    /// Forgets a pod's logs (when it is removed).
    pub fn forget(&self, pod_uid: &str) {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).retain(|(uid, _), _| uid != pod_uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_moves_the_current_lines_to_previous() {
        let s = LogStore::default();
        let t = Timestamp::UNIX_EPOCH;
        s.start_instance("u", "c");
        s.append("u", "c", t, &["one".into()]);
        assert!(s.read("u", "c", true).is_none());
        s.start_instance("u", "c");
        s.append("u", "c", t, &["two".into()]);
        assert_eq!(s.read("u", "c", false).unwrap()[0].text, "two");
        assert_eq!(s.read("u", "c", true).unwrap()[0].text, "one");
        s.forget("u");
        assert!(s.read("u", "c", false).unwrap().is_empty());
    }
}
