//! `github.com/ryanuber/go-glob`, which OpenBao's cert and Kubernetes methods match names
//! with: `*` matches any run of characters anywhere in the pattern, nothing else is special,
//! and an empty pattern matches only the empty string.

pub(crate) fn glob(pattern: &str, subject: &str) -> bool {
    if pattern.is_empty() {
        return subject.is_empty();
    }
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return subject == pattern;
    }
    let leading = pattern.starts_with('*');
    let trailing = pattern.ends_with('*');
    let last = parts.len() - 1;
    let mut rest = subject;
    for (i, part) in parts[..last].iter().enumerate() {
        let Some(at) = rest.find(part) else {
            return false;
        };
        if i == 0 && !leading && at != 0 {
            return false;
        }
        rest = &rest[at + part.len()..];
    }
    trailing || rest.ends_with(parts[last])
}

/// `strutil.StrListContainsGlob`.
pub(crate) fn list_contains_glob(list: &[String], item: &str) -> bool {
    list.iter().any(|p| glob(p, item))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_go_glob() {
        for (p, s, want) in [
            ("*", "anything", true),
            ("app", "app", true),
            ("app", "app2", false),
            ("app-*", "app-web", true),
            ("app-*", "xapp-web", false),
            ("*-web", "app-web", true),
            ("*-web", "app-webx", false),
            ("*.example.com", "a.example.com", true),
            ("*.example.com", "example.com", false),
            ("a*c*e", "abcde", true),
            ("a*c*e", "abcdf", false),
            ("*b*", "abc", true),
            ("*b*", "ac", false),
            ("", "", true),
            ("", "x", false),
        ] {
            assert_eq!(glob(p, s), want, "{p:?} vs {s:?}");
        }
        let list = vec!["web".to_owned(), "ns-*".to_owned()];
        assert!(list_contains_glob(&list, "ns-prod"));
        assert!(!list_contains_glob(&list, "default"));
    }
}
