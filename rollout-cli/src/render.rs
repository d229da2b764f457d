//! Text rendering helpers: aligned tables like kubectl's, short digests, times.

use jiff::Timestamp;

/// An aligned table: columns separated by three spaces, headers in capitals.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 3));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `sha256:0123456789ab`: the algorithm and twelve hex digits, like docker shows.
pub fn short_digest(d: &str) -> String {
    match d.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", &hex[..hex.len().min(12)]),
        None => d.chars().take(19).collect(),
    }
}

/// A timestamp to the second, UTC.
pub fn time(t: Timestamp) -> String {
    Timestamp::from_second(t.as_second()).unwrap_or(t).to_string()
}

/// Tags joined by commas, or `<untagged>`.
pub fn tags(tags: &[String]) -> String {
    if tags.is_empty() { "<untagged>".into() } else { tags.join(",") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_with_three_spaces() {
        let t = table(&["NAME", "AGE"], &[vec!["web".into(), "5m".into()], vec!["database".into(), "1d".into()]]);
        assert_eq!(t, "NAME       AGE\nweb        5m\ndatabase   1d");
    }

    #[test]
    fn digests_are_shortened_to_twelve_hex_digits() {
        assert_eq!(short_digest(&format!("sha256:{}", "ab".repeat(32))), "sha256:abababababab");
    }
}
